package main

import (
	"log/slog"
	"os"
	"syscall"
)

// pollable returns f as a file the Go runtime's poller serves when f is a
// pipe or a socket, as stdin is under every MCP client, and f itself
// otherwise.
//
// os.Stdin is blocking: its reader goroutine sits in a read syscall holding
// a thread, so each message it hands to a handler goroutine waits for
// another thread to wake and pick that goroutine up (20–25 µs per message
// on a 2-core VM, a third of an MCP ping). Read through the poller, the
// reader parks instead and the handler runs at once on the same thread.
//
// Non-blocking mode belongs to the pipe, which the client may share, not
// to this process, so restore puts blocking mode back (and closes the
// returned file); call it before exit. Terminals and files are left alone:
// a shell sharing a terminal would see EAGAIN.
func pollable(f *os.File, logger *slog.Logger) (in *os.File, restore func()) {
	fd := int(f.Fd())
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return f, func() {}
	}
	if kind := st.Mode & syscall.S_IFMT; kind != syscall.S_IFIFO && kind != syscall.S_IFSOCK {
		return f, func() {}
	}
	// A descriptor of our own: a second *os.File on f's descriptor would
	// close it when collected, and by then the number may belong to a
	// socket opened since.
	dup, err := syscall.Dup(fd)
	if err != nil {
		logger.Debug("stdin stays blocking", "err", err)
		return f, func() {}
	}
	syscall.CloseOnExec(dup)
	if err := syscall.SetNonblock(dup, true); err != nil {
		_ = syscall.Close(dup)
		logger.Debug("stdin stays blocking", "err", err)
		return f, func() {}
	}
	// os.NewFile sees the non-blocking flag and registers the descriptor
	// with the poller.
	in = os.NewFile(uintptr(dup), f.Name())
	return in, func() {
		_ = syscall.SetNonblock(dup, false)
		_ = in.Close()
	}
}
