package storage

import (
	"context"
	"errors"
	"fmt"
)

// DiskOptions tunes the disk store; the zero value is the production setting.
type DiskOptions struct {
	// CheckpointBytes is the log size that triggers a checkpoint.
	CheckpointBytes int64
}

// OpenDisk opens the disk store in dir.
func OpenDisk(ctx context.Context, dir string, opts DiskOptions) (Store, error) {
	return nil, fmt.Errorf("storage: open disk store %q: %w", dir, errors.New("not implemented yet"))
}
