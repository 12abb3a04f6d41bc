// Package mcpserver assembles the lockd-mcp MCP server: the tools registry,
// the docs resources, the session lease manager and write-stream registry,
// and the stdio transport.
//
// It owns the transport details mcp-go leaves to the application:
//
//   - The stdio loop (stdio.go). Every message still goes through
//     MCPServer.HandleMessage (initialize, hooks, input-schema validation,
//     dispatch), but lines are read, routed and answered here: one scan per
//     line instead of mcp-go's five decodes, long-lived workers, and a byte
//     budget on lines in flight so pipelined large calls meet backpressure.
//
//   - Lifted arguments (lift.go). Large string arguments a tool declares
//     (write-stream chunks, inline payloads) are taken out of the line before
//     mcp-go decodes it and reach the handler through the context; the
//     message keeps a placeholder, which validates exactly as the value
//     would because such arguments must be bare strings in the schema.
//
//   - Ordered progress. mcp-go queues notifications on a channel drained by
//     another goroutine, so a progress notification sent just before a tool
//     returns can be written after the result. Here tools send progress
//     through syncWriter, the same locked writer the stdio transport writes
//     responses to, and the write completes before the tool returns: every
//     notification precedes its result.
//
//   - Shutdown. When stdin reaches EOF or the context ends (SIGINT/SIGTERM),
//     Serve returns after write streams are aborted and every session lease
//     is released with rollback.
//
// It knows nothing about flags or how the *client.Client was built; that is
// cmd/lockd-mcp's job.
package mcpserver
