// Package tools is the MCP tool surface of lockd-mcp: one file per toolset
// (help.go, lock.go, state.go, streams.go, namespace.go, query.go), each tool a
// typed args struct, a typed result struct and a handler.
//
// Toolsets are data. A Toolset lists its read tools and its write tools; the
// Registry turns the catalogue into mcp-go server tools and applies the
// process-wide choices (--toolsets, --read-only, dotted or underscore names)
// in one place. Building fails when a tool's annotations contradict the list
// it sits in, so an annotation can never claim a write tool is read-only.
//
// Handlers only ever talk to a *client.Client. The same code therefore runs
// against the in-process server and against a real lockd cluster; this package
// must not import server/ or internal/ packages.
//
// Session-bound state lives in two runtime registries owned by Deps: the
// LeaseManager (leases acquired through tools, optional background keepalive,
// release with rollback at shutdown) and the StreamRegistry (write streams that
// pipe appended chunks straight into an open client.UpdateStream request).
//
// Input and output schemas are generated from the args/result structs by
// GenerateSchemas and committed under schemas/; the registry serves the
// committed copies, and a drift test in schemas/ keeps them honest.
package tools
