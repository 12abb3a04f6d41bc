package tools

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/client"
)

func TestOneShotLostSaysNothingCommitted(t *testing.T) {
	other := errors.New("boom")
	for _, tc := range []struct {
		err  error
		lost bool
	}{
		{fmt.Errorf("update: %w", client.ErrLeaseLost), true},
		{fmt.Errorf("release: %w", client.ErrFencingMismatch), true},
		{fmt.Errorf("update: %w", client.ErrVersionConflict), false},
		{other, false},
	} {
		got := oneShotLost(tc.err)
		var te *ToolError
		switch {
		case tc.lost && (!errors.As(got, &te) || !strings.Contains(te.Msg, "nothing was committed") || !errors.Is(got, tc.err)):
			t.Errorf("%v: got %v, want a nothing-committed ToolError wrapping it", tc.err, got)
		case !tc.lost && got != tc.err:
			t.Errorf("%v: changed to %v", tc.err, got)
		}
	}
}
