// Command gen writes schemas/<tool>.json for every tool in tools.Catalogue.
// It runs from `go generate ./...` with the schemas directory as working
// directory.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/tools"
)

func main() {
	if err := run("."); err != nil {
		fmt.Fprintln(os.Stderr, "schemas/gen:", err)
		os.Exit(1)
	}
}

// run replaces every *.json in dir with the generated set, so a removed tool
// also loses its file.
func run(dir string) error {
	gen, err := tools.GenerateSchemas()
	if err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if _, keep := gen[filepath.Base(f)]; !keep && strings.HasPrefix(filepath.Base(f), "lockd_") {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	for name, data := range gen {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
