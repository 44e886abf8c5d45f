package testenv

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	pq "github.com/parquet-go/parquet-go"
)

// ParquetRows returns every row of the Parquet files under root, each as the
// file's directory below root and the row's values, sorted: a reader of its
// own, for tests that compare two runs' tables without a server.
func ParquetRows(t testing.TB, root string) []string {
	t.Helper()
	var rows []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".parquet" {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		pf, err := pq.OpenFile(f, st.Size())
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		r := pq.NewReader(pf)
		defer r.Close()
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		buf := make([]pq.Row, 64)
		for {
			n, err := r.ReadRows(buf)
			for _, row := range buf[:n] {
				rows = append(rows, dir+" "+fmt.Sprint(row))
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rows)
	return rows
}
