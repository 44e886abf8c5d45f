package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"testing"
	"time"
)

// duckdbScript runs one SQL query with @duckdb/node-api and prints its rows as
// a JSON array of objects; BIGINT values become JSON numbers when they fit in a
// double's exact range, timestamps become ISO strings.
const duckdbScript = `
const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const reader = await conn.runAndReadAll(process.argv[1]);
  const rows = reader.getRowObjectsJson();
  process.stdout.write(JSON.stringify(rows));
})().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
`

// DuckDB runs query in an in-memory DuckDB and returns its rows. Values are as
// DuckDB's JSON conversion gives them: numbers, strings (BIGINT and timestamps
// as strings), booleans and nulls.
func DuckDB(t testing.TB, query string) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := Node(ctx, t, "-e", duckdbScript, query)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("testenv: duckdb %q: %v\n%s", query, err, stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("testenv: duckdb output: %v\n%s", err, out)
	}
	return rows
}
