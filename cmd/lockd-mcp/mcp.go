package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/client/inprocess"
	"github.com/lockd-mcp/lockd-mcp/internal/mcpserver"
	"github.com/lockd-mcp/lockd-mcp/server"
	"github.com/lockd-mcp/lockd-mcp/tools"
)

// mcpFlags are the flags of the default command: MCP over stdio.
type mcpFlags struct {
	store, server, bundle, namespace, toolsets, logLevel string
	disableMTLS, readOnly, dotted                        bool
	allowRoots                                           stringList
	inlineMax                                            int64
	idle                                                 time.Duration
}

// stringList is a repeatable flag; from the environment it is a
// path-list (LOCKD_MCP_ALLOW_ROOTS=/a:/b).
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, string(os.PathListSeparator)) }
func (s *stringList) Set(v string) error {
	for _, p := range filepath.SplitList(v) {
		if p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

func newMCPFlagSet(stderr io.Writer) (*flag.FlagSet, *mcpFlags) {
	fs := flag.NewFlagSet("lockd-mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &mcpFlags{}
	fs.StringVar(&f.store, "store", "", "private in-process server on this store: mem:// or disk:///abs/path (default: none, use the shared daemon on $LOCKD_MCP_HOME/lockd.sock)")
	fs.StringVar(&f.server, "server", "", "lockd server URL(s), comma-separated (https://host:9341, http://..., unix:///path); replaces the in-process server")
	fs.StringVar(&f.bundle, "client-bundle", "", "PEM bundle (client cert, key, CA) for mTLS to --server")
	fs.BoolVar(&f.disableMTLS, "disable-mtls", false, "connect to --server without mTLS")
	fs.StringVar(&f.namespace, "namespace", "mcp", "default namespace for tool calls that name none")
	fs.StringVar(&f.toolsets, "toolsets", "", "comma-separated toolsets to advertise: help,lock,state,streams,namespace,query (default all)")
	fs.BoolVar(&f.readOnly, "read-only", false, "advertise read tools only")
	fs.BoolVar(&f.dotted, "dotted-tool-names", false, "advertise lockd.lock.acquire instead of lockd_lock_acquire (both are accepted)")
	fs.Var(&f.allowRoots, "allow-root", "directory payload_path/output_path may use (repeatable; default: the working directory)")
	fs.Int64Var(&f.inlineMax, "inline-max-bytes", 256<<10, "largest payload returned inline by lockd_get and lockd_query_stream")
	fs.DurationVar(&f.idle, "stream-idle-timeout", 2*time.Minute, "abort a write stream idle this long")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level on stderr: debug, info, warn, error")
	fs.Usage = func() { mcpUsage(stderr, fs) }
	return fs, f
}

func mcpUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `lockd-mcp: leases, JSON state and queries for AI agents, over MCP (stdio).

usage:
  lockd-mcp [flags]             MCP over stdio (what your MCP client runs)
  lockd-mcp serve [flags]       only the lockd-compatible HTTP server
  lockd-mcp daemon status|stop|logs   the shared local daemon
  lockd-mcp certs init|issue    CA and mTLS bundles for serve over TCP
  lockd-mcp version             print the version

By default every lockd-mcp on this machine meets in one shared daemon
(lockd-mcp serve on $LOCKD_MCP_HOME/lockd.sock, started on demand, exits
after 10 idle minutes), so agents in different terminals see the same leases.

Quick start (Claude Code):
  claude mcp add lockd -- lockd-mcp
Private, in-memory store for a try-out:
  lockd-mcp --store mem://
Private server on a disk store (not shared; the directory is locked while it runs):
  lockd-mcp --store disk:///abs/path
In front of a lockd cluster:
  lockd-mcp --server https://lockd.example:9341 --client-bundle ~/.lockd/client.pem

stdout carries MCP JSON-RPC only; logs go to stderr. More client configs: examples/ in the repository.
Every flag can also be set as LOCKD_MCP_<FLAG> (e.g. LOCKD_MCP_NAMESPACE=team);
LOCKD_MCP_ALLOW_ROOTS is a path list. LOCKD_MCP_HOME sets the data directory
(default $XDG_DATA_HOME/lockd-mcp or ~/.local/share/lockd-mcp).

flags:
`)
	fs.PrintDefaults()
}

// runMCP is the default command: MCP over stdio until stdin closes or a
// signal arrives, then every session lease is released with rollback.
func runMCP(ctx context.Context, args []string, env func(string) string, stderr io.Writer) error {
	fs, f := newMCPFlagSet(stderr)
	if err := applyEnv(fs, env); err != nil {
		return err
	}
	if v := env("LOCKD_MCP_ALLOW_ROOTS"); v != "" {
		_ = f.allowRoots.Set(v)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (subcommands: serve, version)", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", f.logLevel)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	// An MCP client may close our stdout/stderr pipes before we have
	// released our leases; without this a log line would kill the process
	// with SIGPIPE and leave the leases to expire instead of rolling back.
	signal.Ignore(syscall.SIGPIPE)
	if env("GOMEMLIMIT") == "" {
		// Large write streams churn through chunk-sized buffers; a soft
		// limit keeps the resident size flat instead of growing with GOGC.
		debug.SetMemoryLimit(48 << 20)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// A stdio process serves one client and spends its life waiting on
		// pipes and sockets; with a second P the runtime spends more on
		// waking threads and spinning for work than it gains: 776 vs 867 µs
		// per tool cycle and 410 vs 570 µs of CPU (BenchmarkStdioProcs),
		// and 1 GiB write streams got faster too. The daemon (serve) keeps
		// every core.
		runtime.GOMAXPROCS(1)
	}
	conn, err := connect(ctx, f, env, logger)
	if err != nil {
		return err
	}
	defer conn.close()
	var toolsets []string
	if f.toolsets != "" {
		toolsets = strings.Split(f.toolsets, ",")
	}
	srv, err := mcpserver.New(mcpserver.Config{
		Client: conn.cli,
		Tools: tools.Config{
			Namespace: f.namespace, InlineMaxBytes: f.inlineMax, StreamIdleTimeout: f.idle, Source: conn.source,
		},
		Registry:        tools.Options{Toolsets: toolsets, ReadOnly: f.readOnly, Dotted: f.dotted},
		AllowRoots:      f.allowRoots,
		Logger:          logger,
		Version:         versionString(),
		NamespaceClient: conn.namespaceClient,
	})
	if err != nil {
		return err
	}
	logger.Info("lockd-mcp ready on stdio", "source", conn.source, "namespace", f.namespace, "version", versionString())
	stopProfile, err := startCPUProfile(env("LOCKD_MCP_CPUPROFILE"))
	if err != nil {
		return err
	}
	defer stopProfile()
	stdin, restore := pollable(os.Stdin, logger)
	defer restore()
	return srv.ServeStdio(ctx, stdin, os.Stdout)
}

// startCPUProfile writes a CPU profile of the MCP session to path when it is
// set (hidden env var LOCKD_MCP_CPUPROFILE): the stdio benchmarks measure a
// subprocess, which `go test -cpuprofile` cannot see.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("LOCKD_MCP_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("LOCKD_MCP_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// connection is the SDK client the tools use and how to undo it.
type connection struct {
	cli    *client.Client
	source string
	// dial builds another client on the same server with a different
	// default namespace.
	dial func(ns string) (*client.Client, error)
	stop func()

	mu    sync.Mutex
	byNS  map[string]*client.Client
	close func()
}

func (c *connection) namespaceClient(ns string) (*client.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cli, ok := c.byNS[ns]; ok {
		return cli, nil
	}
	cli, err := c.dial(ns)
	if err != nil {
		return nil, err
	}
	c.byNS[ns] = cli
	return cli, nil
}

func connect(ctx context.Context, f *mcpFlags, env func(string) string, logger *slog.Logger) (*connection, error) {
	if f.server != "" {
		if f.store != "" {
			return nil, errors.New("--store and --server exclude each other: --server uses the cluster's store")
		}
		endpoints, err := client.ParseEndpoints(f.server, f.disableMTLS)
		if err != nil {
			return nil, fmt.Errorf("--server: %w", err)
		}
		dial := func(ns string) (*client.Client, error) {
			opts := []client.Option{client.WithDefaultNamespace(ns), client.WithLogger(logger), client.WithDisableMTLS(f.disableMTLS)}
			if f.bundle != "" {
				opts = append(opts, client.WithBundlePath(f.bundle))
			}
			return client.NewWithEndpoints(endpoints, opts...)
		}
		return newConnection(dial, f.namespace, "remote: lockd server "+strings.Join(endpoints, ","), func() {})
	}
	if f.store == "" {
		return connectDaemon(ctx, f.namespace, env, logger)
	}
	return startInProcess(ctx, f.store, f.namespace, logger)
}

func newConnection(dial func(string) (*client.Client, error), ns, source string, stop func()) (*connection, error) {
	cli, err := dial(ns)
	if err != nil {
		return nil, err
	}
	c := &connection{cli: cli, source: source, dial: dial, stop: stop, byNS: map[string]*client.Client{}}
	c.close = func() {
		// Session leases were already released with rollback by the MCP
		// server; closing the clients only drops connections.
		_ = c.cli.Close()
		c.mu.Lock()
		for _, other := range c.byNS {
			_ = other.Close()
		}
		c.mu.Unlock()
		c.stop()
	}
	return c, nil
}

// startInProcess serves store from a private embedded server on a unix
// socket in this process; tools reach it through the SDK like any server.
func startInProcess(ctx context.Context, store, ns string, logger *slog.Logger) (*connection, error) {
	inproc, err := inprocess.New(ctx, server.Config{Store: store, Logger: logger.With("component", "server")},
		client.WithDefaultNamespace(ns), client.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("--store %s: %w", store, err)
	}
	socket := "unix://" + inproc.SocketPath()
	dial := func(other string) (*client.Client, error) {
		if other == ns {
			return inproc.Client, nil
		}
		return client.New(socket, client.WithDisableMTLS(true), client.WithDefaultNamespace(other), client.WithLogger(logger))
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = inproc.Close(sctx)
	}
	mode := "in-process disk: private server, store "
	if strings.HasPrefix(store, "mem://") {
		mode = "in-process mem: private server, store "
	}
	return newConnection(dial, ns, mode+store, stop)
}
