#!/bin/sh
# Claude Code: register lockd-mcp for the current user (all projects).
claude mcp add --scope user lockd -- lockd-mcp

# Variants:
#   claude mcp add lockd -- lockd-mcp --store mem://                  # private, in-memory
#   claude mcp add lockd -e LOCKD_MCP_NAMESPACE=myteam -- lockd-mcp     # another default namespace
#   claude mcp add lockd -- lockd-mcp --server https://lockd.example:9341 --client-bundle "$HOME/.lockd/client.pem"
# Check it: claude mcp list
