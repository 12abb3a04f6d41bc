// Package daemon owns the shared local lockd-mcp daemon: where it lives
// ($LOCKD_MCP_HOME/lockd.sock, data/, logs/), how a stdio lockd-mcp finds
// or starts it, how the daemon decides it is idle, and the small admin
// surface (status, stop) it serves on its socket.
//
// The model: every MCP client spawns its own stdio lockd-mcp, and they must
// all meet in one store. The first one to find no daemon starts
// `lockd-mcp serve` detached on the socket; the exclusive flock the disk
// store takes on its data directory decides which of several concurrent
// starters wins, and the losers exit with ExitLocked while their spawners
// connect to the winner. A socket file left by a killed daemon refuses
// connections; the next daemon, once it holds the flock, replaces it. A
// socket whose daemon answers is never touched.
//
// Clients reach the daemon through Transport, an http.RoundTripper that
// starts the daemon again when a dial finds nobody home (nothing was sent,
// so that is always safe), resends once the reads and lease calls that
// broke in flight, and turns a write that broke in flight into an
// OutcomeUnknownError instead of letting it be resent blindly.
//
// The package knows the lockd wire only as paths and headers; it never
// imports the engine or the store.
package daemon
