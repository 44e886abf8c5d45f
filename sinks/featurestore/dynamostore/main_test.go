package dynamostore

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (Put's workers, the
// SDK's connections).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
