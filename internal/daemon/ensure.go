package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// ExitLocked is the exit status of `lockd-mcp serve` when another process
// holds its data directory: a starter that lost the race, not a failure.
const ExitLocked = 3

// Defaults of Options.
const (
	DefaultIdleExit     = 10 * time.Minute
	DefaultStartTimeout = 5 * time.Second
	DefaultReplaceDrain = 3 * time.Second
)

// Options configure a Starter.
type Options struct {
	Layout Layout
	// Executable is the lockd-mcp binary started as the daemon (default:
	// this process's executable, so client and daemon share one build).
	Executable string
	// Version is this binary's version, compared with the daemon's.
	Version string
	// IdleExit is passed to the daemon's --idle-exit (default 10 min).
	IdleExit time.Duration
	// StartTimeout bounds one Ensure once no daemon answered (default 5 s).
	StartTimeout time.Duration
	// ReplaceDrain is how long an older daemon may drain before it is
	// replaced (default 3 s).
	ReplaceDrain time.Duration
	// Env is the daemon's environment (default: this process's, minus the
	// variables that would change its listener or store).
	Env    []string
	Logger *slog.Logger
}

// Starter finds the daemon of one Layout, or starts it. It is safe for
// concurrent use; concurrent Ensure calls are serialised so one process
// spawns at most one daemon at a time.
type Starter struct {
	opts  Options
	admin *AdminClient

	mu      sync.Mutex
	warned  bool
	failErr error
	failAt  time.Time
}

// NewStarter returns a Starter; it does not touch the file system yet.
func NewStarter(opts Options) (*Starter, error) {
	if opts.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("daemon: find own executable: %w", err)
		}
		opts.Executable = exe
	}
	if opts.IdleExit <= 0 {
		opts.IdleExit = DefaultIdleExit
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.ReplaceDrain <= 0 {
		opts.ReplaceDrain = DefaultReplaceDrain
	}
	if opts.Env == nil {
		opts.Env = daemonEnv(os.Environ())
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Starter{opts: opts, admin: NewAdminClient(opts.Layout.Socket())}, nil
}

// Layout returns the paths the starter uses.
func (s *Starter) Layout() Layout { return s.opts.Layout }

// failMemory is how long a failed start is remembered: the SDK retries a
// failed request several times in quick succession, and each retry must not
// wait out another full StartTimeout.
const failMemory = time.Second

// Ensure returns once a daemon of an acceptable version answers on the
// socket, starting one if nobody does and replacing one that is older than
// this binary. The error names the log file when the daemon never came up.
func (s *Starter) Ensure(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failErr != nil && time.Since(s.failAt) < failMemory {
		return s.failErr
	}
	err := s.ensure(ctx)
	if err != nil && ctx.Err() == nil {
		s.failErr, s.failAt = err, time.Now()
	} else {
		s.failErr = nil
	}
	return err
}

func (s *Starter) ensure(ctx context.Context) error {
	l := s.opts.Layout
	deadline := time.Now().Add(s.opts.StartTimeout)
	var (
		kid       *child
		lastSpawn time.Time
		replaced  bool
		lastErr   error
	)
	backoff := 2 * time.Millisecond
	for {
		h, err := s.admin.Probe(ctx)
		switch {
		case err == nil && h.Draining:
			// A stopping daemon still owns the store; wait for it to go.
			lastErr = errors.New("the running daemon is draining")
		case err == nil && h.Version == "":
			return fmt.Errorf("a server that is not a lockd-mcp daemon (no %s header) answers on %s; stop it or set LOCKD_MCP_HOME", HeaderVersion, l.Socket())
		case err == nil && !replaced && olderThan(h.Version, s.opts.Version):
			s.opts.Logger.Info("replacing an older lockd-mcp daemon", "daemon_version", h.Version, "version", s.opts.Version)
			if _, serr := s.admin.Stop(ctx, s.opts.ReplaceDrain); serr != nil && !NotRunning(serr) {
				return fmt.Errorf("ask the %s daemon on %s to stop: %w", h.Version, l.Socket(), serr)
			}
			replaced = true
			deadline = time.Now().Add(s.opts.ReplaceDrain + s.opts.StartTimeout)
		case err == nil:
			if h.Version != s.opts.Version && !s.warned {
				s.warned = true
				s.opts.Logger.Warn("using a newer lockd-mcp daemon", "daemon_version", h.Version, "version", s.opts.Version, "socket", l.Socket())
			}
			return nil
		case NotRunning(err):
			lastErr = err
			if kid != nil && kid.exited() && kid.code != ExitLocked {
				return fmt.Errorf("the lockd-mcp daemon exited with status %d before answering on %s; see %s%s", kid.code, l.Socket(), l.LogFile(), logTail(l.LogFile()))
			}
			// Spawn when nobody runs; after a child lost the flock race,
			// wait a little: the winner is probably about to listen.
			if (kid == nil || kid.exited()) && time.Since(lastSpawn) >= 100*time.Millisecond {
				if kid, err = s.spawn(); err != nil {
					return err
				}
				lastSpawn = time.Now()
			}
		default:
			lastErr = err // busy or starting; keep polling
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no lockd-mcp daemon answered on %s within %s (last error: %v); see %s%s", l.Socket(), s.opts.StartTimeout, lastErr, l.LogFile(), logTail(l.LogFile()))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the lockd-mcp daemon on %s: %w", l.Socket(), ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 50*time.Millisecond)
	}
}

// spawn starts `lockd-mcp serve` on the layout, detached from this
// process: its own session, stdin from /dev/null, output to the log file.
func (s *Starter) spawn() (*child, error) {
	l := s.opts.Layout
	if err := l.Prepare(); err != nil {
		return nil, err
	}
	logf, err := openLog(l.LogFile())
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	args := []string{"serve", "--listen", l.URL(), "--store", l.Store(), "--idle-exit", s.opts.IdleExit.String()}
	kid, err := startDetached(s.opts.Executable, args, s.opts.Env, logf)
	if err != nil {
		return nil, fmt.Errorf("start the lockd-mcp daemon (%s): %w", s.opts.Executable, err)
	}
	s.opts.Logger.Debug("started lockd-mcp daemon", "pid", kid.pid, "socket", l.Socket(), "log", l.LogFile())
	return kid, nil
}

// child is a spawned daemon process, reaped in the background so a loser
// of the flock race does not linger as a zombie.
type child struct {
	pid  int
	code int
	done chan struct{}
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// maxLogBytes is the size at which the log file is rotated to .1 before a
// new daemon starts appending.
const maxLogBytes = 8 << 20

func openLog(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogBytes {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	return f, nil
}

// logTail is the end of the log file, formatted for an error message.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return ""
	}
	if len(data) > 1024 {
		data = data[len(data)-1024:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return ":\n" + strings.TrimRight(string(data), "\n")
}

// daemonEnv drops the variables that would override the listener, store
// or TLS files the starter passes, or profile the daemon by accident.
func daemonEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "LOCKD_MCP_LISTEN", "LOCKD_MCP_STORE", "LOCKD_MCP_IDLE_EXIT", "LOCKD_MCP_BUNDLE",
			"LOCKD_MCP_TLS_CERT", "LOCKD_MCP_TLS_KEY", "LOCKD_MCP_TLS_CLIENT_CA", "LOCKD_MCP_CPUPROFILE":
			continue
		}
		out = append(out, kv)
	}
	return out
}
