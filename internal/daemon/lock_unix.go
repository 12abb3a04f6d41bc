//go:build unix

package daemon

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// DataDirHeld reports whether a process holds the disk store's flock on
// dataDir, and the pid it recorded. It probes with a shared, non-blocking
// lock released at once, so it never keeps a daemon from starting. Used to
// tell a stale socket (refused and no holder) from a daemon that is
// starting or stopping (refused but held).
func DataDirHeld(dataDir string) (held bool, pid int) {
	path := filepath.Join(dataDir, "LOCK")
	f, err := os.Open(path)
	if err != nil {
		return false, 0
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return false, 0
	}
	if b, err := os.ReadFile(path); err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return true, pid
}
