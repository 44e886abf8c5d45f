package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// lookup returns the index of column col in schema, or an error that lists
// the columns the schema does have.
func lookup(schema *arrow.Schema, col string) (int, error) {
	if schema == nil {
		return 0, fmt.Errorf("expr: column %q: nil schema", col)
	}
	idx := schema.FieldIndices(col)
	switch len(idx) {
	case 1:
		return idx[0], nil
	case 0:
		return 0, fmt.Errorf("expr: column %q not in schema (have: %s)", col, columnList(schema))
	default:
		return 0, fmt.Errorf("expr: column %q is ambiguous: the schema has it %d times", col, len(idx))
	}
}

// columnList renders the schema's column names, at most ten of them.
func columnList(schema *arrow.Schema) string {
	const max = 10
	var sb strings.Builder
	for i, f := range schema.Fields() {
		if i > 0 {
			sb.WriteString(", ")
		}
		if i == max {
			sb.WriteString("...")
			break
		}
		sb.WriteString(f.Name)
	}
	if sb.Len() == 0 {
		return "no columns"
	}
	return sb.String()
}

// quoteColumn renders a column name: bare when it is an identifier, else in
// backquotes.
func quoteColumn(col string) string {
	if isIdent(col) {
		return col
	}
	return "`" + strings.ReplaceAll(col, "`", "``") + "`"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}
