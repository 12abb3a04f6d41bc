package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Layout is the set of paths under one $LOCKD_MCP_HOME.
type Layout struct {
	// Home is the directory; it is created with mode 0700 because the
	// socket's first protection is its directory.
	Home string
}

// Socket is the unix socket the daemon listens on.
func (l Layout) Socket() string { return filepath.Join(l.Home, "lockd.sock") }

// DataDir is the daemon's disk store.
func (l Layout) DataDir() string { return filepath.Join(l.Home, "data") }

// Store is the store URL of DataDir.
func (l Layout) Store() string { return "disk://" + l.DataDir() }

// LogDir holds the daemon's log file.
func (l Layout) LogDir() string { return filepath.Join(l.Home, "logs") }

// LogFile is where the detached daemon's stdout and stderr go.
func (l Layout) LogFile() string { return filepath.Join(l.LogDir(), "daemon.log") }

// URL is the client endpoint of Socket.
func (l Layout) URL() string { return "unix://" + l.Socket() }

// HomeFromEnv resolves $LOCKD_MCP_HOME, else $XDG_DATA_HOME/lockd-mcp,
// else ~/.local/share/lockd-mcp. It does not create anything.
func HomeFromEnv(env func(string) string) (Layout, error) {
	dir := env("LOCKD_MCP_HOME")
	if dir == "" {
		if x := env("XDG_DATA_HOME"); x != "" {
			dir = filepath.Join(x, "lockd-mcp")
		} else {
			home, err := os.UserHomeDir()
			if err != nil {
				return Layout{}, fmt.Errorf("data directory: %w (set LOCKD_MCP_HOME)", err)
			}
			dir = filepath.Join(home, ".local", "share", "lockd-mcp")
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Layout{}, fmt.Errorf("data directory %s: %w", dir, err)
	}
	return Layout{Home: abs}, nil
}

// maxSocketPath is the usable length of sun_path on Linux (108 bytes with
// the terminating NUL); longer paths fail at bind with a confusing error.
const maxSocketPath = 107

// Prepare creates Home, DataDir and LogDir with mode 0700 and checks that
// the socket path fits a unix socket address. A Home that other users can
// enter is narrowed to 0700: it is lockd-mcp's data directory by
// definition, and the socket deserves more than its own mode as a guard.
func (l Layout) Prepare() error {
	if len(l.Socket()) > maxSocketPath {
		return fmt.Errorf("socket path %s is longer than %d bytes; set LOCKD_MCP_HOME to a shorter directory", l.Socket(), maxSocketPath)
	}
	for _, dir := range []string{l.Home, l.DataDir(), l.LogDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	fi, err := os.Stat(l.Home)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return errors.New("data directory " + l.Home + " is not a directory")
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(l.Home, 0o700); err != nil {
			return fmt.Errorf("data directory %s has mode %04o and cannot be narrowed to 0700: %w", l.Home, fi.Mode().Perm(), err)
		}
	}
	return nil
}
