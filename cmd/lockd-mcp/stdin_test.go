package main

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// isNonblock reports whether f's descriptor is in non-blocking mode.
func isNonblock(t *testing.T, f *os.File) bool {
	t.Helper()
	return fcntlNonblock(t, rawFD(t, f))
}

// rawFD returns f's descriptor without Fd's side effect of making a
// pollable file blocking.
func rawFD(t *testing.T, f *os.File) uintptr {
	t.Helper()
	sc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd uintptr
	if err := sc.Control(func(d uintptr) { fd = d }); err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestPollablePipe(t *testing.T) {
	// A blocking pipe the poller does not know, as stdin is (os.Pipe's
	// files are registered with the poller already).
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		t.Fatal(err)
	}
	r, w := os.NewFile(uintptr(fds[0]), "r"), os.NewFile(uintptr(fds[1]), "w")
	defer w.Close()
	defer r.Close()
	in, restore := pollable(r, slog.New(slog.DiscardHandler))
	if in == r {
		t.Fatal("a pipe was not made pollable")
	}
	// Only a file the poller serves takes deadlines; a read that times
	// out proves the reader parks instead of holding a thread.
	if err := in.SetReadDeadline(time.Now().Add(10 * time.Millisecond)); err != nil {
		t.Fatalf("SetReadDeadline on the pollable pipe: %v", err)
	}
	if _, err := in.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with an expired deadline: got %v, want a deadline error", err)
	}
	if err := in.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = w.Write([]byte("line\n")) }()
	buf := make([]byte, 5)
	if _, err := io.ReadFull(in, buf); err != nil || string(buf) != "line\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if !isNonblock(t, in) {
		t.Fatal("pipe is not in non-blocking mode")
	}
	if rawFD(t, in) == rawFD(t, r) {
		t.Fatal("the pollable file shares the original's descriptor; collecting either would close the other's")
	}
	restore()
	if isNonblock(t, r) {
		t.Fatal("restore left the pipe non-blocking")
	}
	// Closing the pollable file left the original descriptor open.
	go func() { _, _ = w.Write([]byte("more\n")) }()
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "more\n" {
		t.Fatalf("read from the original after restore: %q, %v", buf, err)
	}
}

func TestPollableLeavesFilesAlone(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stdin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in, restore := pollable(f, slog.New(slog.DiscardHandler))
	defer restore()
	if in != f {
		t.Fatal("a regular file was replaced")
	}
	if isNonblock(t, f) {
		t.Fatal("a regular file was made non-blocking")
	}
}
