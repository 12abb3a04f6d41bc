package resources

import (
	"strings"
	"testing"
)

func TestParseStateURI(t *testing.T) {
	tests := []struct {
		uri, ns, key string
		ok           bool
	}{
		{"lockd://state/mcp/doc", "mcp", "doc", true},
		{"lockd://state/mcp/res%2Fx", "mcp", "res/x", true},
		{"lockd://state/mcp/a/b", "mcp", "a/b", true},
		{"lockd://state/mcp/", "", "", false},
		{"lockd://docs/overview", "", "", false},
	}
	for _, tt := range tests {
		ns, key, err := ParseStateURI(tt.uri)
		if (err == nil) != tt.ok || ns != tt.ns || key != tt.key {
			t.Errorf("ParseStateURI(%q) = %q, %q, %v", tt.uri, ns, key, err)
		}
	}
}

func TestDocsEmbedded(t *testing.T) {
	for _, d := range Docs() {
		text, err := DocText(d.Name)
		if err != nil || !strings.HasPrefix(text, "# ") {
			t.Errorf("doc %s: %v", d.Name, err)
		}
	}
	wf, _ := DocText("workflows")
	for _, want := range []string{"Lease per task", "Tags-first memory"} {
		if !strings.Contains(wf, want) {
			t.Errorf("workflows lacks %q", want)
		}
	}
}
