package schemas_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/schemas"
	"github.com/lockd-mcp/lockd-mcp/tools"
)

// TestSchemasMatchCode regenerates every tool schema from the Go structs and
// fails when a committed file differs. LOCKD_MCP_UPDATE_SCHEMAS=1 rewrites
// the files instead.
func TestSchemasMatchCode(t *testing.T) {
	gen, err := tools.GenerateSchemas()
	if err != nil {
		t.Fatal(err)
	}
	update := os.Getenv("LOCKD_MCP_UPDATE_SCHEMAS") == "1"
	for name, want := range gen {
		got, err := os.ReadFile(name)
		if update {
			if err != nil || !bytes.Equal(got, want) {
				if err := os.WriteFile(name, want, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("rewrote %s", name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s missing: run go generate ./... (or LOCKD_MCP_UPDATE_SCHEMAS=1 go test ./schemas)", name)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s drifted from the Go structs: run go generate ./... and review the diff", name)
		}
	}
	committed, _ := filepath.Glob("lockd_*.json")
	for _, f := range committed {
		if _, ok := gen[f]; !ok {
			if update {
				_ = os.Remove(f)
				continue
			}
			t.Errorf("%s has no tool: remove it or run go generate ./...", f)
		}
	}
}

// TestEmbeddedMatchesDisk guards against a stale embed: the binary serves the
// embedded copies, which must be the files on disk.
func TestEmbeddedMatchesDisk(t *testing.T) {
	committed, _ := filepath.Glob("lockd_*.json")
	slices.Sort(committed)
	if len(committed) == 0 {
		t.Fatal("no committed schemas")
	}
	for _, f := range committed {
		disk, _ := os.ReadFile(f)
		emb, err := schemas.File(f[:len(f)-len(".json")])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(disk, emb) {
			t.Errorf("%s: embedded copy differs from disk", f)
		}
	}
}
