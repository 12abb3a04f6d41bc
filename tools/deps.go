package tools

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Notifier delivers notifications/progress to the caller. Progress must
// return only after the notification has been written to the transport, so
// that every notification precedes the tool result (strict clients reject a
// progress notification that arrives after its result).
type Notifier interface {
	Progress(ctx context.Context, token mcp.ProgressToken, progress, total float64, message string) error
}

// Config is what the process decided at start: defaults and limits the tools
// apply and lockd_hint reports.
type Config struct {
	// Namespace is the default namespace (--namespace, default mcp).
	Namespace string
	// InlineMaxBytes caps payloads returned inline (--inline-max-bytes).
	InlineMaxBytes int64
	// StreamIdleTimeout aborts write streams left idle (--stream-idle-timeout).
	StreamIdleTimeout time.Duration
	// Source names what the tools talk to, e.g. "in-process disk store".
	Source string
}

// Deps is everything a handler may use. One Deps is shared by all calls;
// per-call facts (progress token, client name, warnings) live in a shallow
// copy made by withRequest.
type Deps struct {
	Client  *client.Client
	Config  Config
	Roots   *Roots
	Leases  *LeaseManager
	Streams *StreamRegistry
	Notify  Notifier
	Logger  *slog.Logger
	// NamespaceClient returns a client whose default namespace is ns, for
	// SDK calls that take no namespace argument (Describe). Optional.
	NamespaceClient func(ns string) (*client.Client, error)
	// Registry is the registry serving these tools; lockd_hint reports its
	// toolsets and mode.
	Registry *Registry

	progressToken mcp.ProgressToken
	clientName    string
	warnings      *warnings
	// leaseID is the call's lease_id argument, if it has one, so errors
	// can be explained against what this session knows of that lease.
	leaseID string
}

type warnings struct {
	mu   sync.Mutex
	list []string
}

func (d *Deps) withRequest(ctx context.Context, req mcp.CallToolRequest) *Deps {
	c := *d
	if req.Params.Meta != nil {
		c.progressToken = req.Params.Meta.ProgressToken
	}
	c.clientName = clientName(ctx)
	c.warnings = &warnings{}
	return &c
}

// warn records a fact the agent must see in this call's result, such as a
// failed background renewal of a lease the call touched.
func (d *Deps) warn(msg string) {
	if d.warnings == nil {
		return
	}
	d.warnings.mu.Lock()
	defer d.warnings.mu.Unlock()
	d.warnings.list = append(d.warnings.list, msg)
}

func (d *Deps) takeWarnings() []string {
	if d.warnings == nil {
		return nil
	}
	d.warnings.mu.Lock()
	defer d.warnings.mu.Unlock()
	out := d.warnings.list
	d.warnings.list = nil
	return out
}

// progress sends a progress notification when the caller supplied a token.
// Failures are logged, never fatal: progress is advisory.
func (d *Deps) progress(ctx context.Context, progress, total float64, msg string) {
	if d.progressToken == nil || d.Notify == nil {
		return
	}
	if err := d.Notify.Progress(ctx, d.progressToken, progress, total, msg); err != nil && d.Logger != nil {
		d.Logger.Debug("progress notification failed", "err", err)
	}
}

// ns applies the default namespace.
func (d *Deps) ns(ns string) string {
	if ns != "" {
		return ns
	}
	return d.Config.Namespace
}

// owner applies the per-process default owner <client-name>-<host>-<pid>.
func (d *Deps) owner(owner string) string {
	if owner != "" {
		return owner
	}
	return DefaultOwner(d.clientName)
}

// DefaultOwner is the owner used when a call names none.
func DefaultOwner(client string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	if client == "" {
		client = "mcp"
	}
	client = strings.Map(func(r rune) rune {
		if r == ' ' || r == '/' {
			return '-'
		}
		return r
	}, client)
	return fmt.Sprintf("%s-%s-%d", client, host, os.Getpid())
}

func clientName(ctx context.Context) string {
	if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		return s.GetClientInfo().Name
	}
	return ""
}

// startProgress sends a progress notification now and every second until the
// returned stop is called. stop waits for the sender to finish, and Notify
// writes synchronously, so after stop no notification can follow the result.
func (d *Deps) startProgress(ctx context.Context, total float64, msg string) (stop func()) {
	if d.progressToken == nil || d.Notify == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		d.progress(ctx, 0, total, msg)
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				d.progress(ctx, time.Since(start).Seconds(), total, msg)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}

// touchLease adds the pending renewal-failure warning of a session lease to
// this call's result.
func (d *Deps) touchLease(leaseID string) {
	if d.Leases == nil || leaseID == "" {
		return
	}
	if w := d.Leases.Warning(leaseID); w != "" {
		d.warn(w)
	}
}
