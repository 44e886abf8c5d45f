package operators

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/bytedance/sonic/ast"
)

// The decoder walks a record with sonic's ast.Preorder, which calls a
// visitor for every token without building a tree or a map; measured against
// valyala/fastjson, buger/jsonparser and goccy/go-json in
// BenchmarkDecodeJSONCandidates.

// errStop ends a walk early; the reason is in the decoder.
var errStop = errors.New("operators: json: stop")

// walker is the ast.Visitor that fills a decoder's slots from one record.
type walker struct {
	d     *decoder
	depth int // open objects and arrays
	field int // the declared field whose value comes next, or -1
	top   byte

	// Where the last token seen ends in the payload, and the depth there; the
	// trailing check scans from there (see checkEnd).
	base, size uintptr
	end        int
	endDepth   int
}

var _ ast.Visitor = (*walker)(nil)

// decode parses payload into the decoder's slots.
func (w *walker) decode(payload []byte) error {
	d := w.d
	d.begin()
	w.depth, w.field, w.top = 0, -1, 0
	w.base, w.size = uintptr(unsafe.Pointer(unsafe.SliceData(payload))), uintptr(len(payload))
	w.end, w.endDepth = 0, 0
	err := ast.Preorder(unsafe.String(unsafe.SliceData(payload), len(payload)), w, nil)
	switch {
	case err == errStop:
		if d.failed {
			return fmt.Errorf("json: field %q: %s", d.fail.field, d.fail.reason)
		}
		return fmt.Errorf("json: record is %s, not an object", kindOfTop(w.top))
	case err != nil:
		return fmt.Errorf("json: invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: error when parsing input: "))
	}
	if err := checkEnd(payload, w.end, w.endDepth); err != nil {
		return err
	}
	return d.end()
}

func kindOfTop(c byte) string {
	switch c {
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 'n':
		return "JSON null"
	case 't':
		return "a JSON bool"
	}
	return "a JSON number"
}

// track notes that a token, a substring s of the payload, was seen, ending
// extra bytes after s (the closing quote of a string).
func (w *walker) track(s string, extra int) {
	if len(s) == 0 {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	if p < w.base || p+uintptr(len(s)) > w.base+w.size {
		return // an unescaped copy, not in the payload
	}
	w.end = int(p-w.base) + len(s) + extra
	w.endDepth = w.depth
}

// checkEnd makes sure nothing but white space follows the record's object:
// Preorder stops after the first value. From the last tracked token (at
// depth, outside any string) it finds where the outer object closes.
func checkEnd(payload []byte, from, depth int) error {
	inString, escaped := false, false
	for i := from; i < len(payload); i++ {
		c := payload[i]
		if depth == 0 {
			switch c {
			case ' ', '\t', '\n', '\r':
				continue
			}
			return fmt.Errorf("json: invalid JSON: data after the object at offset %d", i)
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// value returns the slot of the field whose value is being visited, or nil
// for a value the decoder ignores; at the top level it stops the walk.
func (w *walker) value(c byte) (*slot, error) {
	switch {
	case w.depth == 0:
		w.top = c
		return nil, errStop
	case w.depth != 1 || w.field < 0:
		return nil, nil
	}
	return &w.d.slots[w.field], nil
}

func (w *walker) reject(reason string) error {
	w.d.reject(w.field, reason)
	return errStop
}

func (w *walker) wrongType(got string) error {
	var want string
	switch w.d.fields[w.field].kind {
	case kindString:
		want = "a string"
	case kindInt64:
		want = "an integer"
	case kindFloat64:
		want = "a number"
	case kindBool:
		want = "true or false"
	case kindTimestamp:
		want = "an RFC 3339 string or epoch milliseconds"
	}
	return w.reject("want " + want + ", got " + got)
}

func (w *walker) OnNull() error {
	s, err := w.value('n')
	if s != nil {
		s.state = slotNull
	}
	return err
}

func (w *walker) OnBool(v bool) error {
	s, err := w.value('t')
	if s == nil {
		return err
	}
	if w.d.fields[w.field].kind != kindBool {
		return w.wrongType("a bool")
	}
	s.b, s.state = v, slotSet
	return nil
}

func (w *walker) OnString(v string) error {
	s, err := w.value('"')
	if s == nil {
		return err
	}
	w.track(v, 1)
	b := unsafe.Slice(unsafe.StringData(v), len(v))
	switch w.d.fields[w.field].kind {
	case kindString:
		if !utf8.Valid(b) {
			return w.reject("string is not valid UTF-8")
		}
		s.s = b
	case kindTimestamp:
		ms, ok := parseRFC3339Millis(b)
		if !ok {
			return w.reject("cannot parse " + strconv.Quote(clip(v)) + " as an RFC 3339 time")
		}
		s.i = ms
	default:
		return w.wrongType("a string")
	}
	s.state = slotSet
	return nil
}

func (w *walker) OnInt64(v int64, n json.Number) error {
	s, err := w.value('0')
	if s == nil {
		return err
	}
	w.track(string(n), 0)
	switch w.d.fields[w.field].kind {
	case kindInt64, kindTimestamp:
		s.i = v
	case kindFloat64:
		s.f = float64(v)
	default:
		return w.wrongType("a number")
	}
	s.state = slotSet
	return nil
}

func (w *walker) OnFloat64(v float64, n json.Number) error {
	s, err := w.value('0')
	if s == nil {
		return err
	}
	w.track(string(n), 0)
	switch w.d.fields[w.field].kind {
	case kindFloat64:
		s.f = v
	case kindInt64:
		return w.reject("number " + clip(string(n)) + " is not an int64")
	case kindTimestamp:
		return w.reject("number " + clip(string(n)) + " is not an integer of epoch milliseconds")
	default:
		return w.wrongType("a number")
	}
	s.state = slotSet
	return nil
}

func (w *walker) OnObjectKey(key string) error {
	if w.depth == 1 {
		w.track(key, 1)
		w.field = w.d.lookup(unsafe.Slice(unsafe.StringData(key), len(key)))
	}
	return nil
}

func (w *walker) OnObjectBegin(int) error {
	if w.depth == 0 {
		w.depth++
		return nil
	}
	return w.container("an object")
}

func (w *walker) OnArrayBegin(int) error {
	if w.depth == 0 {
		w.top = '['
		return errStop
	}
	return w.container("an array")
}

// container handles a nested object or array: the wrong type for a declared
// field, skipped (without callbacks) under a key the schema does not know.
func (w *walker) container(what string) error {
	if w.depth == 1 && w.field >= 0 {
		return w.wrongType(what)
	}
	w.depth++ // Preorder calls the End method after skipping
	return ast.VisitOPSkip
}

func (w *walker) OnObjectEnd() error { w.depth--; return nil }
func (w *walker) OnArrayEnd() error  { w.depth--; return nil }
