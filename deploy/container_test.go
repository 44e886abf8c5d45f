package deploy

import (
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// dockerBuild is the Dockerfile's `RUN ... go build ...` line, split as a
// shell would: the environment assignments before `go`, and go's arguments.
type dockerBuild struct {
	env  []string
	args []string // after "go"
	out  string   // the -o path in the image
}

func readDockerfile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("container", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// shellFields splits s on blanks, honouring single and double quotes (no
// escapes or expansions: the build line needs none, and the test refuses them).
func shellFields(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	quote, started := rune(0), false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, started = r, true
		case r == '\\' || r == '$' || r == '`':
			return nil, errors.New("the build line has shell escapes or expansions: keep it plain")
		case r == ' ' || r == '\t':
			if started {
				out = append(out, cur.String())
				cur.Reset()
				started = false
			}
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unbalanced quote")
	}
	if started {
		out = append(out, cur.String())
	}
	return out, nil
}

func parseDockerBuild(t *testing.T) dockerBuild {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(readDockerfile(t), "\n") {
		if strings.HasPrefix(line, "RUN ") && strings.Contains(line, " go build ") {
			lines = append(lines, strings.TrimPrefix(line, "RUN "))
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want one `RUN ... go build` line in the Dockerfile, have %q", lines)
	}
	fields, err := shellFields(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	var b dockerBuild
	i := 0
	for ; i < len(fields) && strings.Contains(fields[i], "=") && fields[i] != "go"; i++ {
		b.env = append(b.env, fields[i])
	}
	if i+1 >= len(fields) || fields[i] != "go" || fields[i+1] != "build" {
		t.Fatalf("the build line %q is not ENV=... go build ...", lines[0])
	}
	for j := i + 1; j < len(fields); j++ {
		if fields[j] == "-o" && j+1 < len(fields) {
			b.out = fields[j+1]
			j++
			continue
		}
		b.args = append(b.args, fields[j])
	}
	return b
}

func TestDeployDockerfile(t *testing.T) {
	df := readDockerfile(t)
	b := parseDockerBuild(t)
	for _, want := range []string{"CGO_ENABLED=0"} {
		if !strings.Contains(strings.Join(b.env, " "), want) {
			t.Errorf("the build line lacks %s", want)
		}
	}
	args := strings.Join(b.args, " ")
	for _, want := range []string{"build -trimpath", "-ldflags=-s -w", "./cmd/shardflow"} {
		if !strings.Contains(args, want) {
			t.Errorf("the build line %q lacks %q", args, want)
		}
	}
	if b.out == "" || !strings.Contains(df, "COPY --from=build "+b.out+" ") {
		t.Errorf("the final stage does not copy the built %q", b.out)
	}
	// The builder's Go is the one go.mod asks for.
	mod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goVersion == nil || !strings.Contains(df, "FROM golang:"+string(goVersion[1])+" AS build") {
		t.Errorf("the builder is not golang:%s", goVersion[1])
	}
	for _, want := range []string{"FROM gcr.io/distroless/static", "USER 65532:65532", "ENTRYPOINT [\"/usr/local/bin/shardflow\"]"} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
}

var (
	builtOnce sync.Once
	builtPath string
	builtErr  error
)

// buildLikeDockerfile builds cmd/shardflow with the Dockerfile's own build
// line into a temporary directory, once per test binary.
func buildLikeDockerfile(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the shardflow binary")
	}
	b := parseDockerBuild(t)
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shardflow-image-")
		if err != nil {
			builtErr = err
			return
		}
		builtPath = filepath.Join(dir, "shardflow")
		args := append([]string{b.args[0], "-o", builtPath}, b.args[1:]...)
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), b.env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			builtErr = errors.New("go " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(out))
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return builtPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtPath != "" {
		os.RemoveAll(filepath.Dir(builtPath))
	}
	os.Exit(code)
}

func TestDeployContainerBinaryIsStatic(t *testing.T) {
	path := buildLikeDockerfile(t)
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}
	if _, err := f.Symbols(); !errors.Is(err, elf.ErrNoSymbols) {
		t.Errorf("the binary has a symbol table (-ldflags=-s): %v", err)
	}
	if f.Section(".debug_info") != nil {
		t.Error("the binary has DWARF (-ldflags=-w)")
	}
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	// (cmd/go leaves -ldflags out of the build info under -trimpath: the
	// symbol table and DWARF checks stand for it.)
	for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[k] != want {
			t.Errorf("build setting %s = %q, want %q", k, settings[k], want)
		}
	}
	if out, err := exec.Command(path, "jobs").CombinedOutput(); err != nil || !strings.Contains(string(out), "clickstream") {
		t.Errorf("the image's CMD (shardflow jobs): %v\n%s", err, out)
	}
}
