package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the directory that holds the installed node packages:
// $SHARDFLOW_TESTENV, or .testenv at the repository's root. It fails t when the
// packages are not installed.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SHARDFLOW_TESTENV")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), ".testenv")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("testenv: no node packages in %s (%v): run scripts/testenv-install.sh", dir, err)
	}
	return dir
}

// RepoRoot returns the repository's root directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate the repository")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Node returns a command that runs node with args in the testenv directory.
func Node(ctx context.Context, t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("testenv: node is not installed: %v", err)
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = Dir(t)
	return cmd
}
