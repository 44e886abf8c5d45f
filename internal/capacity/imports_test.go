package capacity

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoAWSSDK keeps the planner free of the AWS SDK and of the rest of
// shardflow: it plans from numbers and /metrics, and makes no AWS call.
func TestNoAWSSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/shardflow/shardflow/internal/capacity").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/aws/") || (strings.HasPrefix(dep, "github.com/shardflow/") && dep != "github.com/shardflow/shardflow/internal/capacity") {
			t.Errorf("capacity depends on %s", dep)
		}
	}
}
