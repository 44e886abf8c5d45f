package main

import (
	"os"
	"strings"
	"testing"
)

// The README quotes this program; keep the two the same.
func TestREADMEQuotesThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+string(src)+"```") {
		t.Error("README.md does not quote examples/quickstart/main.go as it is; paste it again")
	}
}
