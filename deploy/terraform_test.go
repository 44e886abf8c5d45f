package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// module is deploy/terraform parsed: every .tf file's body.
type module struct {
	files map[string]*hclsyntax.Body
}

func parseModule(t *testing.T) module {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("terraform", "*.tf"))
	if err != nil || len(paths) < 5 {
		t.Fatalf("terraform/*.tf: %v %v", paths, err)
	}
	p := hclparse.NewParser()
	m := module{files: map[string]*hclsyntax.Body{}}
	for _, path := range paths {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", path, diags.Error())
		}
		m.files[path] = f.Body.(*hclsyntax.Body)
	}
	return m
}

// blocks returns the top-level blocks of type typ, in file order.
func (m module) blocks(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	paths := make([]string, 0, len(m.files))
	for p := range m.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, b := range m.files[p].Blocks {
			if b.Type == typ {
				out = append(out, b)
			}
		}
	}
	return out
}

func stringAttr(t *testing.T, b *hclsyntax.Block, name string) (string, bool) {
	t.Helper()
	a, ok := b.Body.Attributes[name]
	if !ok {
		return "", false
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String || v.IsNull() {
		return "", false
	}
	return v.AsString(), true
}

// references collects the names under root (var, local) that the module's
// expressions use, outside the blocks skip says to leave out.
func (m module) references(root string, skip func(*hclsyntax.Block) bool) map[string]bool {
	refs := map[string]bool{}
	for _, body := range m.files {
		for _, b := range body.Blocks {
			if skip != nil && skip(b) {
				continue
			}
			hclsyntax.VisitAll(b.Body, func(n hclsyntax.Node) hcl.Diagnostics {
				if e, ok := n.(*hclsyntax.ScopeTraversalExpr); ok && e.Traversal.RootName() == root && len(e.Traversal) > 1 {
					if a, ok := e.Traversal[1].(hcl.TraverseAttr); ok {
						refs[a.Name] = true
					}
				}
				return nil
			})
		}
	}
	return refs
}

func TestDeployTerraformVariables(t *testing.T) {
	m := parseModule(t)
	declared := map[string]bool{}
	for _, v := range m.blocks("variable") {
		name := v.Labels[0]
		declared[name] = true
		typ, ok := v.Body.Attributes["type"]
		if !ok {
			t.Errorf("variable %q has no type", name)
			continue
		}
		if d, ok := stringAttr(t, v, "description"); !ok || len(d) < 10 {
			t.Errorf("variable %q has no description", name)
		}
		// A bool or a map of tags has nothing to validate; every other variable says what it accepts.
		kw := hcl.ExprAsKeyword(typ.Expr)
		_, isCall := typ.Expr.(*hclsyntax.FunctionCallExpr)
		if kw == "bool" || isCall && typ.Expr.(*hclsyntax.FunctionCallExpr).Name == "map" {
			continue
		}
		var validations int
		for _, b := range v.Body.Blocks {
			if b.Type != "validation" {
				continue
			}
			validations++
			cond, ok := b.Body.Attributes["condition"]
			if !ok {
				t.Errorf("variable %q: validation without condition", name)
				continue
			}
			if msg, ok := stringAttr(t, b, "error_message"); !ok || !strings.HasSuffix(msg, ".") {
				t.Errorf("variable %q: validation wants an error_message sentence ending in a full stop", name)
			}
			self := false
			for _, tr := range cond.Expr.Variables() {
				if a, ok := tr[1].(hcl.TraverseAttr); tr.RootName() == "var" && ok && a.Name == name {
					self = true
				}
			}
			if !self {
				t.Errorf("variable %q: validation condition does not test var.%s", name, name)
			}
		}
		if validations == 0 {
			t.Errorf("variable %q (type %s) has no validation", name, kw)
		}
	}
	if len(declared) < 8 {
		t.Fatalf("only %d variables", len(declared))
	}
	used := m.references("var", func(b *hclsyntax.Block) bool { return b.Type == "variable" })
	for name := range declared {
		if !used[name] {
			t.Errorf("variable %q is declared and never used", name)
		}
	}
	for name := range used {
		if !declared[name] {
			t.Errorf("var.%s is used and not declared", name)
		}
	}
	locals := map[string]bool{}
	for _, b := range m.blocks("locals") {
		for name := range b.Body.Attributes {
			locals[name] = true
		}
	}
	usedLocals := m.references("local", nil)
	for name := range locals {
		if !usedLocals[name] {
			t.Errorf("local %q is never used", name)
		}
	}
	for name := range usedLocals {
		if !locals[name] {
			t.Errorf("local.%s is used and not declared", name)
		}
	}
}

func TestDeployTerraformOutputs(t *testing.T) {
	m := parseModule(t)
	outs := m.blocks("output")
	if len(outs) < 5 {
		t.Fatalf("only %d outputs", len(outs))
	}
	for _, o := range outs {
		if d, ok := stringAttr(t, o, "description"); !ok || len(d) < 10 {
			t.Errorf("output %q has no description", o.Labels[0])
		}
		if _, ok := o.Body.Attributes["value"]; !ok {
			t.Errorf("output %q has no value", o.Labels[0])
		}
	}
}

// TestDeployTerraformOneArgumentPerLine checks what HCL itself refuses: a
// block on one line holds one argument at most. The KINESIS.md example is such
// a block, and the parser must say no to it.
func TestDeployTerraformOneArgumentPerLine(t *testing.T) {
	_, diags := hclparse.NewParser().ParseHCL([]byte(`variable "shards" { type = number default = 2 }`+"\n"), "kinesis.md.tf")
	if !diags.HasErrors() {
		t.Fatal("the parser accepts a one-line block with two arguments")
	}
	m := parseModule(t)
	for path, body := range m.files {
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			if b, ok := n.(*hclsyntax.Block); ok && b.OpenBraceRange.Start.Line == b.CloseBraceRange.End.Line && len(b.Body.Attributes)+len(b.Body.Blocks) > 1 {
				t.Errorf("%s:%d: one-line block %s with %d arguments", path, b.OpenBraceRange.Start.Line, b.Type, len(b.Body.Attributes)+len(b.Body.Blocks))
			}
			return nil
		})
	}
}

func kinesisStream(t *testing.T, m module) *hclsyntax.Block {
	t.Helper()
	for _, r := range m.blocks("resource") {
		if r.Labels[0] == "aws_kinesis_stream" {
			return r
		}
	}
	t.Fatal("no aws_kinesis_stream")
	return nil
}

// TestDeployTerraformShardCountOnDemand evaluates the stream's shard_count as
// Terraform would: null in ON_DEMAND mode, var.shard_count when PROVISIONED.
func TestDeployTerraformShardCountOnDemand(t *testing.T) {
	m := parseModule(t)
	s := kinesisStream(t, m)
	a, ok := s.Body.Attributes["shard_count"]
	if !ok {
		t.Fatal("aws_kinesis_stream has no shard_count")
	}
	for mode, want := range map[string]cty.Value{"ON_DEMAND": cty.NullVal(cty.Number), "PROVISIONED": cty.NumberIntVal(4)} {
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{
			"stream_mode": cty.StringVal(mode), "shard_count": cty.NumberIntVal(4),
		})}}
		got, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", mode, diags.Error())
		}
		if got.IsNull() != want.IsNull() || !got.IsNull() && !got.RawEquals(want) {
			t.Errorf("%s: shard_count = %#v, want %#v", mode, got, want)
		}
	}
	var details bool
	for _, b := range s.Body.Blocks {
		if b.Type == "stream_mode_details" {
			details = true
			if tr := b.Body.Attributes["stream_mode"].Expr.Variables(); len(tr) != 1 || tr[0].RootName() != "var" {
				t.Errorf("stream_mode_details.stream_mode is not var.stream_mode")
			}
		}
	}
	if !details {
		t.Error("aws_kinesis_stream has no stream_mode_details")
	}
	for _, name := range []string{"retention_period", "encryption_type", "kms_key_id", "tags"} {
		if _, ok := s.Body.Attributes[name]; !ok {
			t.Errorf("aws_kinesis_stream has no %s", name)
		}
	}
}

func TestDeployTerraformResources(t *testing.T) {
	m := parseModule(t)
	have := map[string]*hclsyntax.Block{}
	for _, r := range m.blocks("resource") {
		have[r.Labels[0]] = r
	}
	for _, want := range []string{"aws_kinesis_stream", "aws_kinesis_stream_consumer", "aws_dynamodb_table", "aws_s3_bucket",
		"aws_s3_bucket_public_access_block", "aws_s3_bucket_server_side_encryption_configuration", "aws_iam_policy"} {
		if have[want] == nil {
			t.Errorf("no resource %s", want)
		}
	}
	if tbl := have["aws_dynamodb_table"]; tbl != nil {
		if v, _ := stringAttr(t, tbl, "hash_key"); v != "leaseKey" {
			t.Errorf("lease table hash_key %q, want leaseKey (the KCL layout)", v)
		}
		if v, _ := stringAttr(t, tbl, "billing_mode"); v != "PAY_PER_REQUEST" {
			t.Errorf("lease table billing_mode %q", v)
		}
	}
	if pab := have["aws_s3_bucket_public_access_block"]; pab != nil {
		for _, name := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
			v, diags := pab.Body.Attributes[name].Expr.Value(nil)
			if diags.HasErrors() || !v.RawEquals(cty.True) {
				t.Errorf("public access block %s is not true", name)
			}
		}
	}
}

// TestDeployTerraformLeastPrivilege checks that the worker policy grants the
// Kinesis calls the source declares in its API interfaces (methods named like
// their *kinesis.XInput), and no other.
func TestDeployTerraformLeastPrivilege(t *testing.T) {
	src, _ := filepath.Glob(filepath.Join("..", "sources", "kinesis", "*.go"))
	call := regexp.MustCompile(`(?m)^\s+([A-Z]\w+)\(ctx context\.Context, \w+ \*kinesis\.(\w+)Input`)
	calls := map[string]bool{}
	for _, path := range src {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, mm := range call.FindAllStringSubmatch(string(data), -1) {
			if mm[1] == mm[2] {
				calls["kinesis:"+mm[1]] = true
			}
		}
	}
	if len(calls) < 4 {
		t.Fatalf("found only %v in sources/kinesis", calls)
	}
	iam, err := os.ReadFile(filepath.Join("terraform", "iam.tf"))
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, mm := range regexp.MustCompile(`"(kinesis:\w+)"`).FindAllStringSubmatch(string(iam), -1) {
		granted[mm[1]] = true
	}
	for c := range calls {
		if !granted[c] {
			t.Errorf("the source calls %s and terraform/iam.tf does not grant it", c)
		}
	}
	for g := range granted {
		if !calls[g] {
			t.Errorf("terraform/iam.tf grants %s and the source never calls it", g)
		}
	}
	if strings.Contains(string(iam), `"*"`) || regexp.MustCompile(`"\w+:\*"`).Match(iam) {
		t.Error("terraform/iam.tf grants a wildcard")
	}
}

// TestDeployTerraformExampleVars checks that examples/terraform.tfvars sets
// only declared variables, and every required one.
func TestDeployTerraformExampleVars(t *testing.T) {
	m := parseModule(t)
	declared, required := map[string]bool{}, map[string]bool{}
	for _, v := range m.blocks("variable") {
		declared[v.Labels[0]] = true
		if _, ok := v.Body.Attributes["default"]; !ok {
			required[v.Labels[0]] = true
		}
	}
	f, diags := hclparse.NewParser().ParseHCLFile(filepath.Join("terraform", "examples", "terraform.tfvars"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var names []string
	for name, a := range attrs {
		names = append(names, name)
		if !declared[name] {
			t.Errorf("terraform.tfvars sets undeclared %q", name)
		}
		if _, diags := a.Expr.Value(nil); diags.HasErrors() {
			t.Errorf("terraform.tfvars %s: %s", name, diags.Error())
		}
	}
	for name := range required {
		if !slices.Contains(names, name) {
			t.Errorf("terraform.tfvars lacks required %q", name)
		}
	}
	for _, name := range []string{"shard_count", "stream_mode", "retention_hours", "enhanced_fan_out"} {
		if !slices.Contains(names, name) {
			t.Errorf("terraform.tfvars lacks the plan's %q", name)
		}
	}
}
