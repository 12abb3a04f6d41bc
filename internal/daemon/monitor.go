package daemon

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Admin routes of a daemon. They live under /v1/lockd-mcp/, a prefix the
// lockd wire does not use, and are served on unix sockets only (the
// socket's mode is their access control).
const (
	StatusPath = "/v1/lockd-mcp/status"
	StopPath   = "/v1/lockd-mcp/stop"
)

// Status is what GET StatusPath returns.
type Status struct {
	PID     int    `json:"pid"`
	Version string `json:"version"`
	Socket  string `json:"socket"`
	Store   string `json:"store"`
	// StartedAt and UptimeSeconds describe this daemon process.
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	// Connections counts open client connections, the status request's
	// own included.
	Connections int64 `json:"connections"`
	// LiveLeases counts keys holding a lease.
	LiveLeases int64 `json:"live_leases"`
	// IdleExitSeconds is the --idle-exit setting (0: never).
	IdleExitSeconds float64 `json:"idle_exit_seconds"`
	// Stopping is true once a stop was requested or the idle timer fired.
	Stopping bool `json:"stopping"`
}

// MonitorConfig describes the daemon a Monitor reports on.
type MonitorConfig struct {
	Version  string
	Socket   string
	Store    string
	IdleExit time.Duration
	Logger   *slog.Logger
}

// Monitor counts a daemon's connections, decides when it is idle, and
// serves the admin routes. Install it through server.Config.ConnState and
// server.Config.Wrap, then Attach the running server's lease count.
type Monitor struct {
	cfg     MonitorConfig
	started time.Time
	conns   atomic.Int64
	leases  atomic.Pointer[func() int64]
	// stop carries the drain timeout of a requested stop; buffered so the
	// handler never blocks on a serve loop that is already stopping.
	stop     chan time.Duration
	stopping atomic.Bool
	idleOnce sync.Once
	idle     chan struct{}
}

// NewMonitor returns a monitor for one daemon process.
func NewMonitor(cfg MonitorConfig) *Monitor {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Monitor{cfg: cfg, started: time.Now(), stop: make(chan time.Duration, 1), idle: make(chan struct{})}
}

// ConnState tracks open connections; it has http.Server.ConnState's
// signature.
func (m *Monitor) ConnState(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		m.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		m.conns.Add(-1)
	}
}

// Attach sets the live lease count source (server.Handle.ActiveLeases).
func (m *Monitor) Attach(liveLeases func() int64) { m.leases.Store(&liveLeases) }

func (m *Monitor) liveLeases() int64 {
	if f := m.leases.Load(); f != nil {
		return (*f)()
	}
	return 0
}

// Wrap serves the admin routes and stamps HeaderVersion on the health
// checks; everything else goes to next untouched.
func (m *Monitor) Wrap(next http.Handler) http.Handler {
	version := []string{m.cfg.Version}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz":
			w.Header()[HeaderVersion] = version
			next.ServeHTTP(w, r)
		case StatusPath:
			if r.Method != http.MethodGet {
				http.Error(w, "use GET", http.StatusMethodNotAllowed)
				return
			}
			m.writeStatus(w, http.StatusOK)
		case StopPath:
			m.serveStop(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// Snapshot returns the current status.
func (m *Monitor) Snapshot() Status {
	return Status{
		PID:             os.Getpid(),
		Version:         m.cfg.Version,
		Socket:          m.cfg.Socket,
		Store:           m.cfg.Store,
		StartedAt:       m.started.UTC(),
		UptimeSeconds:   time.Since(m.started).Seconds(),
		Connections:     m.conns.Load(),
		LiveLeases:      m.liveLeases(),
		IdleExitSeconds: m.cfg.IdleExit.Seconds(),
		Stopping:        m.stopping.Load(),
	}
}

func (m *Monitor) writeStatus(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(HeaderVersion, m.cfg.Version)
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(m.Snapshot())
}

// serveStop accepts POST StopPath?drain=DURATION and hands the stop to the
// serve loop, which drains (lease holders may finish) and exits.
func (m *Monitor) serveStop(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	drain := time.Duration(-1) // the daemon's own --drain-timeout
	if v := r.URL.Query().Get("drain"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			http.Error(w, "drain: want a non-negative duration such as 5s", http.StatusBadRequest)
			return
		}
		drain = d
	}
	m.stopping.Store(true)
	select {
	case m.stop <- drain:
		m.cfg.Logger.Info("stop requested over the admin socket", "drain", drain)
	default: // a stop is already under way
	}
	m.writeStatus(w, http.StatusAccepted)
}

// StopRequested delivers the drain timeout of a stop asked for over the
// admin route; a negative value means the daemon's configured default.
func (m *Monitor) StopRequested() <-chan time.Duration { return m.stop }

// Idle returns a channel that is closed once the daemon has had no open
// connection and no live lease for the whole IdleExit period. With
// IdleExit <= 0 the channel never closes.
func (m *Monitor) Idle(done <-chan struct{}) <-chan struct{} {
	if m.cfg.IdleExit <= 0 {
		return nil
	}
	m.idleOnce.Do(func() { go m.watchIdle(done) })
	return m.idle
}

func (m *Monitor) watchIdle(done <-chan struct{}) {
	// Check a few times per period so the exit is at most ~10% late, but
	// never spin faster than 10 ms nor sleep longer than a second.
	every := min(max(m.cfg.IdleExit/10, 10*time.Millisecond), time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var since time.Time
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			if m.conns.Load() > 0 || m.liveLeases() > 0 {
				since = time.Time{}
				continue
			}
			if since.IsZero() {
				since = now
				continue
			}
			if now.Sub(since) >= m.cfg.IdleExit {
				m.stopping.Store(true)
				close(m.idle)
				return
			}
		}
	}
}
