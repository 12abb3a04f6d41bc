package tools

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

func TestExplainNamesTheConditionAndTheNextStep(t *testing.T) {
	d := &Deps{}
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"no error body (a proxy's 502)", &client.APIError{Status: 502}, []string{"HTTP 502 Bad Gateway", "lockd_hint"}},
		{"version conflict", fmt.Errorf("update: %w", &client.APIError{Status: 409, Response: api.ErrorResponse{ErrorCode: "version_conflict", CurrentVersion: 7}}), []string{"current version is 7", "if_version=7"}},
		{"tool error", &ToolError{Msg: "argument key: empty"}, []string{"argument key: empty"}},
		{"cancelled", context.Canceled, []string{"cancelled", "retry"}},
	} {
		got := d.explain(context.Background(), "lockd_x", tc.err)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
		if strings.Contains(got, ": ;") {
			t.Errorf("%s: empty condition in %q", tc.name, got)
		}
	}
}
