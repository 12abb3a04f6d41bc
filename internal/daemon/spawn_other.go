//go:build !unix

package daemon

import (
	"errors"
	"os"
)

func startDetached(string, []string, []string, *os.File) (*child, error) {
	return nil, errors.New("the shared daemon needs unix sockets; use --store mem://, --store disk:///path or --server")
}
