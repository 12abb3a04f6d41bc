module github.com/lockd-mcp/lockd-mcp

go 1.26
