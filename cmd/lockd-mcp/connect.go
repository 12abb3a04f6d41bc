package main

import (
	"context"
	"log/slog"

	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/internal/daemon"
)

// connectDaemon is the default mode: the tools talk to the shared local
// daemon of $LOCKD_MCP_HOME, which is started when none answers and again
// whenever it has died (see daemon.Transport).
func connectDaemon(ctx context.Context, ns string, env func(string) string, logger *slog.Logger) (*connection, error) {
	layout, err := daemon.HomeFromEnv(env)
	if err != nil {
		return nil, err
	}
	if err := layout.Prepare(); err != nil {
		return nil, err
	}
	idle, err := daemonIdleExit(env)
	if err != nil {
		return nil, err
	}
	log := logger.With("component", "daemon")
	starter, err := daemon.NewStarter(daemon.Options{Layout: layout, Version: versionString(), IdleExit: idle, Logger: log})
	if err != nil {
		return nil, err
	}
	tr := daemon.NewTransport(starter, log)
	hc := tr.HTTPClient()
	// Find or start the daemon while the MCP client initialises; the first
	// tool call waits for this same Ensure through the transport's dialer.
	go func() {
		if err := starter.Ensure(ctx); err != nil && ctx.Err() == nil {
			log.Warn("lockd-mcp daemon not ready yet; tool calls will retry", "err", err)
		}
	}()
	// The SDK's drain handler would release every session lease with
	// rollback as soon as a response announces the daemon's shutdown. The
	// daemon is not a cluster node to fail over from: its disk store keeps
	// leases and staged writes across a clean stop, and the next call starts
	// it again. So holders keep their leases through a `daemon stop` (or a
	// replacement by a newer version): they may finish during the drain, as
	// documented, and carry on afterwards.
	dial := func(ns string) (*client.Client, error) {
		return client.New(layout.URL(), client.WithHTTPClient(hc), client.WithDisableMTLS(true),
			client.WithDefaultNamespace(ns), client.WithLogger(logger), client.WithDrainAwareShutdown(false))
	}
	return newConnection(dial, ns, "daemon: shared local daemon "+layout.URL()+", store "+layout.Store(), tr.CloseIdleConnections)
}
