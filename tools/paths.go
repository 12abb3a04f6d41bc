package tools

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Roots confines payload_path and output_path to allowed directories
// (--allow-root). Paths are resolved with symlinks followed before the check,
// so a link inside a root cannot point the server at a file outside it.
type Roots struct {
	dirs []string // absolute, symlink-resolved
}

// NewRoots resolves dirs; with none it allows the working directory.
func NewRoots(dirs []string) (*Roots, error) {
	if len(dirs) == 0 {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("allowed roots: working directory: %w", err)
		}
		dirs = []string{wd}
	}
	r := &Roots{}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("allowed root %q: %w", d, err)
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("allowed root %q: %w", d, err)
		}
		r.dirs = append(r.dirs, real)
	}
	return r, nil
}

// List returns the resolved roots.
func (r *Roots) List() []string { return append([]string(nil), r.dirs...) }

// ReadPath resolves an existing file for reading (payload_path).
func (r *Roots) ReadPath(arg, p string) (string, error) {
	if p == "" {
		return "", failf("argument %s is empty", arg)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", failf("argument %s: %v", arg, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", failf("argument %s: %q cannot be read: %v", arg, p, err)
	}
	if !r.contains(real) {
		return "", r.refuse(arg, p)
	}
	return real, nil
}

// WritePath resolves a file to create or overwrite (output_path). The file
// may not exist yet, so its parent directory is resolved instead; an
// existing final component that is a symlink is resolved too.
func (r *Roots) WritePath(arg, p string) (string, error) {
	if p == "" {
		return "", failf("argument %s is empty", arg)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", failf("argument %s: %v", arg, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", failf("argument %s: %v", arg, err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", failf("argument %s: directory of %q does not exist: %v", arg, p, err)
	}
	real := filepath.Join(dir, filepath.Base(abs))
	if !r.contains(real) {
		return "", r.refuse(arg, p)
	}
	return real, nil
}

func (r *Roots) contains(p string) bool {
	for _, d := range r.dirs {
		if p == d || strings.HasPrefix(p, d+string(filepath.Separator)) || d == string(filepath.Separator) {
			return true
		}
	}
	return false
}

func (r *Roots) refuse(arg, p string) error {
	return failf("argument %s: %q is outside the allowed roots %v; use a path under one of them (start lockd-mcp with --allow-root DIR to add one)", arg, p, r.dirs)
}
