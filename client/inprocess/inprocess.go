// Package inprocess runs an embedded lockd server inside the calling
// process and hands back a client connected to it. It is meant for tests,
// examples and single-process tools: the server listens on a unix socket in
// a fresh private directory, so nothing else on the machine can reach it and
// no port is taken.
package inprocess

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/server"
)

// Client is a *client.Client bound to a private embedded server. Every
// client method is available; Close stops the server as well.
type Client struct {
	*client.Client

	handle *server.Handle
	dir    string

	closeOnce sync.Once
	closeErr  error
}

// New starts a server with cfg on a unix socket in a new 0700 temporary
// directory and returns a client for it. cfg.Listen and cfg.ListenProto
// are overridden; a nil cfg.Logger logs warnings and errors to stderr. opts
// are passed to client.New after WithDisableMTLS(true), which the socket
// requires.
func New(ctx context.Context, cfg server.Config, opts ...client.Option) (*Client, error) {
	dir, err := os.MkdirTemp("", "lockd-inprocess-")
	if err != nil {
		return nil, fmt.Errorf("inprocess: create socket dir: %w", err)
	}
	// MkdirTemp already uses 0700; say it explicitly because the socket's
	// only protection is its directory.
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("inprocess: chmod socket dir: %w", err)
	}
	socket := filepath.Join(dir, "lockd.sock")
	cfg.Listen, cfg.ListenProto = socket, "unix"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	handle, err := server.Start(ctx, cfg)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("inprocess: start server: %w", err)
	}
	cli, err := client.New("unix://"+socket, append([]client.Option{client.WithDisableMTLS(true)}, opts...)...)
	if err != nil {
		_ = handle.Stop(ctx, server.WithDrainTimeout(0))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("inprocess: client: %w", err)
	}
	return &Client{Client: cli, handle: handle, dir: dir}, nil
}

// Server returns the handle of the embedded server.
func (c *Client) Server() *server.Handle { return c.handle }

// SocketPath returns the unix socket the server listens on.
func (c *Client) SocketPath() string { return filepath.Join(c.dir, "lockd.sock") }

// Close releases the client's open leases, stops the server without waiting
// for other lease holders, and removes the socket directory. It is safe to
// call more than once.
func (c *Client) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		cerr := c.Client.Close()
		serr := c.handle.Stop(ctx, server.WithDrainTimeout(0))
		rerr := os.RemoveAll(c.dir)
		c.closeErr = errors.Join(cerr, serr, rerr)
	})
	return c.closeErr
}
