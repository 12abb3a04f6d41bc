// Command lockd-mcp gives agents lockd's coordination primitives over MCP.
// Without a subcommand it speaks MCP on stdio, in front of the shared local
// daemon (started on demand), a private in-process server (--store) or a
// lockd cluster (--server). The subcommands run the lockd-compatible HTTP
// server (serve), manage the daemon (daemon) and create mTLS bundles
// (certs).
package main

import (
	"context"
	"errors"
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
		{name: "daemon", summary: "status, stop or logs of the shared local daemon", run: runDaemon},
		{name: "certs", summary: "create a CA, server and client bundles for mTLS", run: runCerts},
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
		return exitCode(stderr, "lockd-mcp", runMCP(ctx, args, env, stderr))
	}
	if args[0] == "help" {
		usage(stderr)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return exitCode(stderr, "lockd-mcp "+c.name, c.run(ctx, args[1:], env, stderr))
		}
	}
	fmt.Fprintf(stderr, "lockd-mcp: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// exitError asks for a specific exit status, e.g. daemon.ExitLocked for a
// serve that lost the race for its data directory.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// exitCode prints err (if any) and maps it to the process exit status.
func exitCode(stderr io.Writer, prefix string, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
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
