package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/internal/testenv"
)

// TestRepoFiles checks the top-level files a user meets first: the licence,
// and a .gitignore that keeps what the default runs, the examples and the
// test setup write out of `git status`.
func TestRepoFiles(t *testing.T) {
	root := testenv.RepoRoot(t)
	license, err := os.ReadFile(filepath.Join(root, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Apache License\n                           Version 2.0, January 2004", "END OF TERMS AND CONDITIONS", "Copyright 2026 The shardflow authors"} {
		if !strings.Contains(string(license), want) {
			t.Errorf("LICENSE lacks %q", want)
		}
	}

	ignored := []string{"shardflow-data/out/x", "shardflow-data/replay/checkpoints/x", "quickstart-data/out/x", ".testenv/node_modules/x", "shardflow", "quickstart"}
	kept := []string{"cmd/shardflow/x.go", "examples/quickstart/x.go", "LICENSE"}
	cmd := exec.Command("git", append([]string{"check-ignore", "--no-index", "--verbose", "--non-matching"}, append(ignored, kept...)...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("git check-ignore: %v", err)
	}
	got := map[string]bool{} // path: ignored
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		source, path, ok := strings.Cut(line, "\t")
		if ok {
			got[path] = !strings.HasPrefix(source, "::")
		}
	}
	for _, p := range ignored {
		if !got[p] {
			t.Errorf(".gitignore does not ignore %s", p)
		}
	}
	for _, p := range kept {
		if ig, ok := got[p]; !ok || ig {
			t.Errorf(".gitignore ignores %s (or git did not answer for it)", p)
		}
	}
}
