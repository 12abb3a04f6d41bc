package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/lockd-mcp/lockd-mcp/resources"
	"github.com/lockd-mcp/lockd-mcp/schemas"
	"github.com/lockd-mcp/lockd-mcp/tools"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Config is everything the server needs; cmd/lockd-mcp fills it from flags.
type Config struct {
	Client     *client.Client
	Tools      tools.Config
	Registry   tools.Options
	AllowRoots []string
	Logger     *slog.Logger
	Version    string
	// NamespaceClient returns a client bound to another default namespace,
	// for SDK calls that take no namespace (Describe).
	NamespaceClient func(ns string) (*client.Client, error)
	// WorkerPoolSize bounds concurrent tool calls on stdio; blocking
	// acquires hold a worker, so it is larger than mcp-go's default of 5.
	WorkerPoolSize int
}

// Server is an assembled lockd-mcp MCP server.
type Server struct {
	cfg      Config
	mcp      *server.MCPServer
	deps     *tools.Deps
	registry *tools.Registry
	large    map[string][]string // liftable arguments by tool name, both spellings
	out      *syncWriter
	logger   *slog.Logger
	closeMu  sync.Once
	closeErr error
}

// New validates the registry and builds the MCP server.
func New(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("mcpserver: Config.Client is nil")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tools.Namespace == "" {
		cfg.Tools.Namespace = "mcp"
	}
	if cfg.Tools.InlineMaxBytes <= 0 {
		cfg.Tools.InlineMaxBytes = 256 << 10
	}
	if cfg.Tools.StreamIdleTimeout <= 0 {
		cfg.Tools.StreamIdleTimeout = 2 * time.Minute
	}
	if cfg.WorkerPoolSize <= 0 {
		cfg.WorkerPoolSize = 16
	}
	reg, err := tools.NewRegistry(tools.Catalogue(), cfg.Registry, SchemaSource)
	if err != nil {
		return nil, fmt.Errorf("mcpserver: %w", err)
	}
	roots, err := tools.NewRoots(cfg.AllowRoots)
	if err != nil {
		return nil, fmt.Errorf("mcpserver: %w", err)
	}
	s := &Server{cfg: cfg, registry: reg, logger: logger}
	s.deps = &tools.Deps{
		Client:   cfg.Client,
		Config:   cfg.Tools,
		Roots:    roots,
		Leases:   tools.NewLeaseManager(cfg.Client, logger),
		Streams:  tools.NewStreamRegistry(cfg.Client, cfg.Tools.StreamIdleTimeout, logger),
		Logger:   logger,
		Registry: reg,

		NamespaceClient: cfg.NamespaceClient,
	}
	st, err := reg.ServerTools(s.deps)
	if err != nil {
		return nil, fmt.Errorf("mcpserver: %w", err)
	}
	inputs := map[string]json.RawMessage{}
	for _, t := range st {
		inputs[t.Tool.Name] = t.Tool.RawInputSchema
	}
	argErrs, err := newArgErrors(inputs)
	if err != nil {
		return nil, fmt.Errorf("mcpserver: %w", err)
	}
	if s.large, err = largeArgs(reg, inputs); err != nil {
		return nil, fmt.Errorf("mcpserver: %w", err)
	}
	hooks := &server.Hooks{}
	hooks.AddBeforeCallTool(reg.AliasHook())
	hooks.AddAfterCallTool(argErrs.hook)
	s.mcp = server.NewMCPServer("lockd-mcp", cfg.Version,
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(false, false),
		server.WithInputSchemaValidation(),
		server.WithRecovery(),
		server.WithHooks(hooks),
		server.WithInstructions(instructions),
	)
	s.mcp.AddTools(st...)
	resources.Register(s.mcp, cfg.Client, cfg.Tools.Namespace)
	// Outside stdio (tests, in-process clients) progress goes through
	// mcp-go's own path; ServeStdio swaps in the synchronous writer.
	s.deps.Notify = mcpNotifier{srv: s.mcp}
	return s, nil
}

const instructions = "lockd: exclusive leases, JSON state with compare-and-set, LQL queries. " +
	"Call lockd_hint first; lockd_help topic=leases|state|query|streams explains workflows."

// SchemaSource serves the committed schemas embedded from schemas/.
func SchemaSource(name string) (json.RawMessage, json.RawMessage, error) {
	f, err := schemas.File(name)
	if err != nil {
		return nil, nil, err
	}
	return tools.CompactSchema(f)
}

// MCP returns the underlying mcp-go server (for in-process clients in tests).
func (s *Server) MCP() *server.MCPServer { return s.mcp }

// Registry returns the tool registry in use.
func (s *Server) Registry() *tools.Registry { return s.registry }

// Deps returns the shared tool dependencies (tests inspect leases).
func (s *Server) Deps() *tools.Deps { return s.deps }

// ServeStdio serves MCP on in/out until in reaches EOF or ctx ends, then
// shuts down: write streams are aborted and session leases released with
// rollback.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	s.out = &syncWriter{w: out}
	s.deps.Notify = &stdioNotifier{w: s.out}
	loop := &stdioLoop{
		srv:     s.mcp,
		out:     s.out,
		large:   s.large,
		workers: s.cfg.WorkerPoolSize,
		budget:  newLineBudget(stdioLineBudget),
		report:  func(msg string, args ...any) { s.logger.Warn("stdio: "+msg, args...) },
	}
	err := loop.listen(ctx, in)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	s.logger.Info("mcp session ended, shutting down", "reason", reasonOf(ctx, err))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, s.Shutdown(shutdownCtx))
}

func reasonOf(ctx context.Context, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case ctx.Err() != nil:
		return "signal"
	}
	return "stdin closed"
}

// Shutdown aborts open write streams and releases every session lease with
// rollback. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeMu.Do(func() {
		s.deps.Streams.Close()
		s.closeErr = s.deps.Leases.Close(ctx)
	})
	return s.closeErr
}

// syncWriter serialises whole writes. mcp-go writes each JSON-RPC message
// with one Write call, and so does stdioNotifier, so lines never interleave.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// stdioNotifier writes notifications/progress straight to stdout, so the
// notification is on the wire before the tool handler returns.
type stdioNotifier struct{ w *syncWriter }

func (n *stdioNotifier) Progress(_ context.Context, token mcp.ProgressToken, progress, total float64, message string) error {
	params := map[string]any{"progressToken": token, "progress": progress}
	if total > 0 {
		params["total"] = total
	}
	if message != "" {
		params["message"] = message
	}
	line, err := json.Marshal(map[string]any{"jsonrpc": mcp.JSONRPC_VERSION, "method": "notifications/progress", "params": params})
	if err != nil {
		return err
	}
	_, err = n.w.Write(append(line, '\n'))
	return err
}

// mcpNotifier is the fallback for transports other than stdio; ordering is
// then mcp-go's.
type mcpNotifier struct{ srv *server.MCPServer }

func (n mcpNotifier) Progress(ctx context.Context, token mcp.ProgressToken, progress, total float64, message string) error {
	params := map[string]any{"progressToken": token, "progress": progress}
	if total > 0 {
		params["total"] = total
	}
	if message != "" {
		params["message"] = message
	}
	return n.srv.SendNotificationToClient(ctx, "notifications/progress", params)
}
