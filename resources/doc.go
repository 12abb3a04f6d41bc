// Package resources serves lockd-mcp's MCP resources: the embedded markdown
// docs (lockd://docs/overview, lql, workflows, errors) and the template
// lockd://state/{namespace}/{key}, which reads a key's committed state
// through the SDK's public Get.
//
// Like tools/, it talks only to a *client.Client.
package resources
