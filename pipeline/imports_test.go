package pipeline

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundaries keeps the runtime, the operators and the windows free
// of the AWS SDK, Parquet and store clients, and checks that imports flow one
// way: these packages never import jobs, sources or sinks.
func TestImportBoundaries(t *testing.T) {
	forbidden := []string{
		"github.com/aws/",
		"github.com/parquet-go/",
		"github.com/redis/",
		"modernc.org/sqlite",
		"github.com/apache/arrow-go/v18/parquet",
		"github.com/shardflow/shardflow/jobs",
		"github.com/shardflow/shardflow/sources",
		"github.com/shardflow/shardflow/sinks",
	}
	for _, pkg := range []string{"pipeline", "operators", "windows", "expr"} {
		out, err := exec.Command("go", "list", "-deps", "github.com/shardflow/shardflow/"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list %s: implausibly few dependencies: %v", pkg, deps)
		}
		for _, dep := range deps {
			for _, f := range forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
