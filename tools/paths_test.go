package tools

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRootsConfinePaths(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "in.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "dirlink")); err != nil {
		t.Fatal(err)
	}
	r, err := NewRoots([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		write bool
		path  string
		ok    bool
	}{
		{"file inside", false, filepath.Join(root, "in.json"), true},
		{"missing file", false, filepath.Join(root, "nope"), false},
		{"symlink out", false, filepath.Join(root, "link"), false},
		{"dotdot", false, filepath.Join(root, "..", filepath.Base(outside), "secret"), false},
		{"new output inside", true, filepath.Join(root, "out.ndjson"), true},
		{"output via dir symlink", true, filepath.Join(root, "dirlink", "x"), false},
		{"output through file symlink", true, filepath.Join(root, "link"), false},
		{"output outside", true, filepath.Join(outside, "x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.write {
				_, err = r.WritePath("output_path", tt.path)
			} else {
				_, err = r.ReadPath("payload_path", tt.path)
			}
			if (err == nil) != tt.ok {
				t.Fatalf("ok=%v, err=%v", tt.ok, err)
			}
			if err != nil && !strings.Contains(err.Error(), "_path") {
				t.Fatalf("error does not name the argument: %v", err)
			}
		})
	}
}
