package storage

import (
	"os"
	"syscall"
)

// syncData flushes a file's data and the metadata needed to read it back
// (its size). fdatasync skips the timestamps fsync would also write.
func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
