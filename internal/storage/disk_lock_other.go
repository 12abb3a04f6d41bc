//go:build !unix

package storage

import (
	"fmt"
	"os"
)

func lockDir(dir string) (*os.File, error) {
	return nil, fmt.Errorf("storage: open disk store %s: the disk store needs flock, which this platform lacks", dir)
}

func unlockDir(f *os.File) error { return f.Close() }
