package schemas

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed *.json
var files embed.FS

// FS returns the embedded schema files.
func FS() fs.FS { return files }

// File returns the committed schema file of the tool with the underscore
// name, e.g. lockd_lock_acquire.
func File(tool string) ([]byte, error) {
	data, err := files.ReadFile(tool + ".json")
	if err != nil {
		return nil, fmt.Errorf("no committed schema for %s: %w", tool, err)
	}
	return data, nil
}
