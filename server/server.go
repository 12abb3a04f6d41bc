package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/engine"
	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

// Handle is a running server.
type Handle struct {
	s        *server
	http     *http.Server
	ln       net.Listener
	url      string
	done     chan struct{}
	serveErr error
	stopOnce sync.Once
	stopErr  error
}

// server is the HTTP front of one engine.
type server struct {
	cfg Config
	eng *engine.Engine
	log *slog.Logger
	// drainUntil is the unix-nano end of the drain window, 0 when serving
	// normally.
	drainUntil atomic.Int64
}

// Start opens the store, loads the engine, listens and serves until Stop.
// It returns once the listener accepts connections.
func Start(ctx context.Context, cfg Config) (*Handle, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.buildTLS()
	if err != nil {
		return nil, err
	}
	store, err := storage.Open(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("server: open store: %w", err)
	}
	eng, err := engine.Open(ctx, store, engine.Options{
		DefaultTTL:      cfg.DefaultTTL,
		MaxTTL:          cfg.MaxTTL,
		AcquireBlockMax: cfg.AcquireBlockMax,
		DisableIndex:    cfg.DisableIndex,
		Logger:          cfg.Logger,
	})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("server: load engine: %w", err)
	}
	ln, err := listen(cfg)
	if err != nil {
		eng.Close()
		return nil, err
	}
	s := &server{cfg: cfg, eng: eng, log: cfg.Logger}
	var handler http.Handler = s
	if cfg.Wrap != nil {
		handler = cfg.Wrap(s)
	}
	hs := &http.Server{
		Handler:           handler,
		ConnState:         cfg.ConnState,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsCfg,
	}
	h := &Handle{s: s, http: hs, ln: ln, done: make(chan struct{})}
	switch {
	case cfg.ListenProto == "unix":
		h.url = "unix://" + cfg.Listen
	case tlsCfg != nil:
		h.url = "https://" + ln.Addr().String()
	default:
		h.url = "http://" + ln.Addr().String()
	}
	go func() {
		defer close(h.done)
		var err error
		if tlsCfg != nil {
			err = hs.ServeTLS(ln, "", "")
		} else {
			err = hs.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			h.serveErr = err
		}
	}()
	return h, nil
}

func listen(cfg Config) (net.Listener, error) {
	if cfg.ListenProto == "tcp" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("server: listen on %s: %w", cfg.Listen, err)
		}
		return ln, nil
	}
	path := cfg.Listen
	if _, err := os.Stat(path); err == nil {
		// A socket left by a crashed server refuses connections; a live one
		// answers, and then we must not steal its path.
		c, derr := net.DialTimeout("unix", path, time.Second)
		if derr == nil {
			c.Close()
			return nil, fmt.Errorf("server: another server is listening on %s", path)
		}
		if !errors.Is(derr, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("server: %s exists and is not a stale socket: %w", path, derr)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("server: remove stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("server: listen on unix socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("server: restrict socket permissions: %w", err)
	}
	return ln, nil
}

// Addr is the address the server listens on.
func (h *Handle) Addr() net.Addr { return h.ln.Addr() }

// URL is the base URL clients use: http://host:port, https://host:port or
// unix:///path.
func (h *Handle) URL() string { return h.url }

// ActiveLeases is the number of keys currently holding a lease (expired
// leases count until the expiry timer clears them, within milliseconds). A
// daemon can use it to decide it is idle.
func (h *Handle) ActiveLeases() int64 { return h.s.eng.ActiveLeases() }

// Done is closed when the server has stopped serving.
func (h *Handle) Done() <-chan struct{} { return h.done }

// Err returns the error that ended serving, if any, once Done is closed.
func (h *Handle) Err() error {
	select {
	case <-h.done:
		return h.serveErr
	default:
		return nil
	}
}

// StopOption tunes Stop.
type StopOption func(*stopOptions)

type stopOptions struct{ drain time.Duration }

// WithDrainTimeout overrides Config.DrainTimeout for this Stop; 0 skips the
// wait for lease holders (responses still announce the shutdown).
func WithDrainTimeout(d time.Duration) StopOption {
	return func(o *stopOptions) { o.drain = d }
}

// Stop drains and stops the server. During the drain every response carries
// Shutdown-Imminent: true, new acquires get 503 shutdown_draining, and lease
// holders may keep alive, write and release. The drain ends when no lease is
// held, the drain timeout passes or ctx ends; then in-flight requests finish
// (bounded by ctx) and the store closes. Stop is idempotent.
func (h *Handle) Stop(ctx context.Context, opts ...StopOption) error {
	h.stopOnce.Do(func() {
		o := stopOptions{drain: h.s.cfg.DrainTimeout}
		for _, opt := range opts {
			opt(&o)
		}
		h.stopErr = h.stop(ctx, o)
	})
	return h.stopErr
}

func (h *Handle) stop(ctx context.Context, o stopOptions) error {
	deadline := time.Now().Add(o.drain)
	h.s.drainUntil.Store(deadline.UnixNano())
	h.s.eng.BeginDrain()
	tick := time.NewTicker(20 * time.Millisecond)
	for h.s.eng.ActiveLeases() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	tick.Stop()
	err := h.http.Shutdown(ctx)
	if err != nil {
		h.http.Close()
	}
	<-h.done
	if cerr := h.s.eng.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("server: stop: %w", err)
	}
	return nil
}

// ServeHTTP routes a request. Paths are exact, as on the reference server;
// anything else is Go's plain-text 404.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.drainUntil.Load() != 0 {
		w.Header()[api.HeaderShutdownImminent] = hdrTrue
	}
	switch r.URL.Path {
	case "/v1/acquire":
		s.handleAcquire(w, r)
	case "/v1/keepalive":
		s.handleKeepAlive(w, r)
	case "/v1/release":
		s.handleRelease(w, r)
	case "/v1/get":
		s.handleGet(w, r)
	case "/v1/update":
		s.handleUpdate(w, r)
	case "/v1/mutate":
		s.handleMutate(w, r)
	case "/v1/metadata":
		s.handleMetadata(w, r)
	case "/v1/remove":
		s.handleRemove(w, r)
	case "/v1/describe":
		s.handleDescribe(w, r)
	case "/v1/namespace":
		s.handleNamespace(w, r)
	case "/v1/query":
		s.handleQuery(w, r)
	case "/v1/index/flush":
		s.handleIndexFlush(w, r)
	case "/v1/txn/decide":
		s.handleTxnDecide(w, r)
	case "/v1/txn/commit":
		s.handleTxnApply(w, r, api.TxnStateCommit)
	case "/v1/txn/rollback":
		s.handleTxnApply(w, r, api.TxnStateRollback)
	case "/v1/txn/replay":
		s.handleTxnReplay(w, r)
	case "/healthz", "/readyz":
		w.Header()["Content-Length"] = hdrZero
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

// drainRetryAfter is the number of seconds left in the drain window (>= 1).
func (s *server) drainRetryAfter() int64 {
	until := s.drainUntil.Load()
	left := time.Until(time.Unix(0, until))
	return max(1, int64((left+time.Second-1)/time.Second))
}
