package lql

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// FileMode selects how a file-backed value is encoded (spec §5.11).
type FileMode int8

const (
	// FileAuto writes the file as text when it is valid UTF-8 without NUL
	// bytes, and as base64 otherwise (file:).
	FileAuto FileMode = iota
	// FileText requires valid UTF-8 without NUL bytes (textfile:).
	FileText
	// FileBase64 writes standard padded base64 (base64file:).
	FileBase64
)

// FileValue is the file a set mutation takes its value from. Path is
// already resolved (home expansion, base directory, cleaning).
type FileValue struct {
	Mode FileMode
	Path string

	opener *MutationFileValueResolver
}

// MutationFileValueResolver resolves and opens the files named by file:,
// textfile: and base64file: mutations. Paths are resolved when the mutation
// is parsed: one layer of quotes is removed, "~" and a leading "~/" expand
// to the user's home directory ("~user" is not expanded), absolute paths
// are cleaned and relative ones are joined to BaseDir. Files are opened only
// when the mutation is applied.
type MutationFileValueResolver struct {
	// BaseDir anchors relative paths; without it they are refused.
	BaseDir string
	// Open, if set, is used instead of the filesystem. It must return a
	// fresh reader on every call.
	Open func(path string) (io.ReadCloser, error)
	// HomeDir, if set, replaces os.UserHomeDir for "~" expansion.
	HomeDir func() (string, error)
}

func (r *MutationFileValueResolver) resolvePath(raw string) (string, error) {
	p := strings.TrimSpace(raw)
	if p == "" {
		return "", fmt.Errorf("file-backed mutation missing file path")
	}
	p, _ = unquote(p)
	if p == "~" || strings.HasPrefix(p, "~/") {
		home := os.UserHomeDir
		if r.HomeDir != nil {
			home = r.HomeDir
		}
		h, err := home()
		if err != nil {
			return "", fmt.Errorf("resolve home dir for file-backed mutation: %w", err)
		}
		p = filepath.Join(h, p[1:])
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	base := strings.TrimSpace(r.BaseDir)
	if base == "" {
		return "", fmt.Errorf("relative file-backed mutation path %q requires file value base dir", p)
	}
	return filepath.Clean(filepath.Join(base, p)), nil
}

func (r *MutationFileValueResolver) open(path string) (io.ReadCloser, error) {
	if r != nil && r.Open != nil {
		return r.Open(path)
	}
	return os.Open(path)
}

// readFileValue reads the file and returns its JSON string encoding's
// content (the decoded Go string). Reading happens at apply time.
func (f *FileValue) read() (string, error) {
	rc, err := f.opener.open(f.Path)
	if err != nil {
		return "", err
	}
	data, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	switch f.Mode {
	case FileBase64:
		return base64.StdEncoding.EncodeToString(data), nil
	case FileText:
		if !utf8.Valid(data) {
			return "", fmt.Errorf("file-backed text mutation %q contains invalid UTF-8", f.Path)
		}
		if bytes.IndexByte(data, 0) >= 0 {
			return "", fmt.Errorf("file-backed text mutation %q contains NUL byte", f.Path)
		}
		return string(data), nil
	}
	if utf8.Valid(data) && bytes.IndexByte(data, 0) < 0 {
		return string(data), nil
	}
	return base64.StdEncoding.EncodeToString(data), nil
}
