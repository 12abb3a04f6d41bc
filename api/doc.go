// Package api holds the lockd v1 wire types: request and response bodies with
// JSON tags exactly as the contract (../shared/lockd-api), the header names,
// the error codes and a few protocol constants.
//
// It is a leaf: the server, the SDK and the MCP tools all speak through these
// types, so a field spelled here is a field spelled on the wire. The package
// carries no behaviour beyond small helpers on the types themselves.
package api
