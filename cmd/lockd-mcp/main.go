// Command lockd-mcp gives agents lockd's coordination primitives. For now it
// offers the "serve" subcommand, the embedded lockd-compatible HTTP server;
// the MCP modes join the same subcommand table.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, env func(string) string, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{name: "serve", summary: "run the lockd-compatible HTTP server", run: runServe},
		{name: "version", summary: "print the version", run: runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, env func(string) string, stderr io.Writer) int {
	// No subcommand (or only flags): MCP over stdio, what MCP clients run.
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := runMCP(ctx, args, env, stderr); err != nil {
			fmt.Fprintf(stderr, "lockd-mcp: %v\n", err)
			return 1
		}
		return 0
	}
	if args[0] == "help" {
		usage(stderr)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			if err := c.run(ctx, args[1:], env, stderr); err != nil {
				fmt.Fprintf(stderr, "lockd-mcp %s: %v\n", c.name, err)
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "lockd-mcp: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lockd-mcp <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "lockd-mcp <command> -h" for the flags of a command.`)
}
