// Package schemas holds the committed JSON schemas of every lockd-mcp tool,
// one file per tool (<tool>.json with "input" and "output"), generated from
// the Go args/result structs in tools/ by `go generate ./...`.
//
// The files are embedded into the binary and served from there, so what a
// reviewer reads in a diff is exactly what clients receive in tools/list.
// TestSchemasMatchCode regenerates them and fails on any drift; run it with
// LOCKD_MCP_UPDATE_SCHEMAS=1 (or run go generate) to rewrite them.
//
// This package must not import tools/ (tools imports it); the generator and
// the drift test live in ./gen and the external test package.
package schemas

//go:generate go run ./gen
