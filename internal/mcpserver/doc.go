// Package mcpserver assembles the lockd-mcp MCP server: the tools registry,
// the docs resources, the session lease manager and write-stream registry,
// and the stdio transport.
//
// It owns two transport details mcp-go leaves to the application:
//
//   - Ordered progress. mcp-go queues notifications on a channel drained by
//     another goroutine, so a progress notification sent just before a tool
//     returns can be written after the result. Here tools send progress
//     through syncWriter, the same locked writer the stdio transport writes
//     responses to, and the write completes before the tool returns: every
//     notification precedes its result.
//   - Shutdown. When stdin reaches EOF or the context ends (SIGINT/SIGTERM),
//     Serve returns after write streams are aborted and every session lease
//     is released with rollback.
//
// It knows nothing about flags or how the *client.Client was built; that is
// cmd/lockd-mcp's job.
package mcpserver
