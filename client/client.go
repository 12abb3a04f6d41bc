package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client talks to one lockd cluster through one or more endpoints. It is
// safe for concurrent use. A Client remembers the fencing token and txn id of
// every lease it acquired, so client-level calls that name a lease id get the
// right headers without the caller carrying them around.
type Client struct {
	set       settings
	logger    *slog.Logger
	endpoints []*endpoint
	timeout   time.Duration // per-exchange timeout after defaults are applied
	closers   []func()

	// slots recycles per-request timeouts (see bound); recycleBounds says
	// whether the transports are the SDK's own, which slots require.
	slots         sync.Pool
	recycleBounds bool

	mu          sync.Mutex
	namespace   string
	stickyLease string
	leases      map[string]leaseInfo
	sessions    map[*LeaseSession]struct{}
	closed      bool
}

// leaseInfo is what the SDK must send on lease-bound calls for a lease id
// (WIRE §8.1).
type leaseInfo struct {
	token     int64
	txnID     string
	namespace string
	key       string
}

// New returns a client for one endpoint: https://host[:port] (mTLS unless
// disabled), http://host[:port], unix:///path/to/socket, or a bare
// host[:port] (https, or http with WithDisableMTLS(true), port 9341).
func New(baseURL string, opts ...Option) (*Client, error) {
	return NewWithEndpoints([]string{baseURL}, opts...)
}

// NewWithEndpoints returns a client that fails over between endpoints. Each
// request tries them in a fresh random order (see WithEndpointShuffle), and
// calls on a lease session try the endpoint that granted the lease first.
func NewWithEndpoints(endpoints []string, opts ...Option) (*Client, error) {
	c := &Client{
		set:      defaultSettings(),
		leases:   make(map[string]leaseInfo),
		sessions: make(map[*LeaseSession]struct{}),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(c)
		}
	}
	c.logger = c.set.logger
	c.recycleBounds = c.set.httpClient == nil
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	ns, err := normalizeNamespace(c.set.defaultNamespace)
	if err != nil {
		return nil, err
	}
	c.namespace = ns
	var urls []string
	seen := make(map[string]bool)
	for _, raw := range endpoints {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		u, err := normalizeEndpoint(raw, c.set.disableMTLS)
		if err != nil {
			return nil, err
		}
		if !seen[u] {
			seen[u] = true
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, errors.New("lockd: no endpoint configured")
	}
	if err := c.buildEndpoints(urls); err != nil {
		return nil, err
	}
	switch {
	case c.set.httpTimeoutSet && c.set.httpTimeout > 0:
		c.timeout = c.set.httpTimeout
	case c.set.httpTimeoutSet:
		c.timeout = noTimeout
	case len(c.endpoints) > 1:
		c.timeout = DefaultMultiEndpointHTTPTimeout
	default:
		c.timeout = DefaultHTTPTimeout
	}
	return c, nil
}

// ParseEndpoints splits a comma-separated endpoint list and normalises each
// entry as New does.
func ParseEndpoints(raw string, disableMTLS bool) ([]string, error) {
	var out []string
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := normalizeEndpoint(part, disableMTLS)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("lockd: no endpoint in list")
	}
	return out, nil
}

func normalizeEndpoint(raw string, disableMTLS bool) (string, error) {
	raw = strings.TrimSpace(raw)
	if path, ok := strings.CutPrefix(raw, "unix://"); ok {
		if path == "" || !strings.HasPrefix(path, "/") {
			return "", fmt.Errorf("lockd: endpoint %q: unix socket path must be absolute", raw)
		}
		return "unix://" + path, nil
	}
	if !strings.Contains(raw, "://") {
		scheme := "https"
		if disableMTLS {
			scheme = "http"
		}
		host := strings.TrimRight(raw, "/")
		if _, _, err := net.SplitHostPort(host); err != nil {
			host = net.JoinHostPort(strings.Trim(host, "[]"), DefaultPort)
		}
		raw = scheme + "://" + host
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("lockd: endpoint %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("lockd: endpoint %q: unsupported scheme %q (want https, http or unix)", raw, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("lockd: endpoint %q: missing host", raw)
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), nil
}

// Endpoints returns the normalised endpoint URLs in configuration order.
func (c *Client) Endpoints() []string {
	out := make([]string, len(c.endpoints))
	for i, ep := range c.endpoints {
		out[i] = ep.url
	}
	return out
}

// Close releases every lease session still open on this client (bounded by
// WithCloseTimeout) and drops idle connections. It is safe to call twice.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	sessions := make([]*LeaseSession, 0, len(c.sessions))
	for s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()

	var errs []error
	if len(sessions) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), c.set.closeTimeout)
		var wg sync.WaitGroup
		var emu sync.Mutex
		for _, s := range sessions {
			wg.Go(func() {
				if err := s.Release(ctx); err != nil && !errors.Is(err, ErrLeaseLost) {
					emu.Lock()
					errs = append(errs, err)
					emu.Unlock()
				}
			})
		}
		wg.Wait()
		cancel()
	}
	for _, closeIdle := range c.closers {
		closeIdle()
	}
	return errors.Join(errs...)
}

// Namespace returns the namespace used when a call leaves it empty.
func (c *Client) Namespace() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.namespace
}

// UseNamespace changes the namespace used when a call leaves it empty.
func (c *Client) UseNamespace(ns string) error {
	norm, err := normalizeNamespace(ns)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.namespace = norm
	c.mu.Unlock()
	return nil
}

// namespaceOr returns ns, or the client's namespace when ns is empty
// (WIRE §8.11: the SDK never relies on the server default).
func (c *Client) namespaceOr(ns string) string {
	if ns = strings.TrimSpace(ns); ns != "" {
		return ns
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.namespace
}

func normalizeNamespace(ns string) (string, error) {
	ns = strings.ToLower(strings.TrimSpace(ns))
	if ns == "" {
		return DefaultNamespace, nil
	}
	if strings.HasPrefix(ns, ".") {
		return "", fmt.Errorf("lockd: namespace %q is reserved", ns)
	}
	if len(ns) > 128 {
		return "", fmt.Errorf("lockd: namespace %q longer than 128 characters", ns)
	}
	for _, r := range ns {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return "", fmt.Errorf("lockd: namespace %q: allowed characters are a-z 0-9 . _ -", ns)
		}
	}
	return ns, nil
}

// UseLeaseID makes leaseID the lease that client-level calls use when they
// are given no lease id.
func (c *Client) UseLeaseID(leaseID string) {
	c.mu.Lock()
	c.stickyLease = strings.TrimSpace(leaseID)
	c.mu.Unlock()
}

// ClearLeaseID forgets the sticky lease set by UseLeaseID if it is leaseID.
func (c *Client) ClearLeaseID(leaseID string) {
	c.mu.Lock()
	if c.stickyLease == leaseID {
		c.stickyLease = ""
	}
	c.mu.Unlock()
}

// RegisterLeaseToken records the fencing token of a lease obtained outside
// this client (for example handed over by another process), so client-level
// calls on that lease can send it.
func (c *Client) RegisterLeaseToken(leaseID string, token int64) {
	c.mu.Lock()
	info := c.leases[leaseID]
	info.token = token
	c.leases[leaseID] = info
	c.mu.Unlock()
}

// leaseOr returns leaseID, or the sticky lease when it is empty.
func (c *Client) leaseOr(leaseID string) string {
	if leaseID = strings.TrimSpace(leaseID); leaseID != "" {
		return leaseID
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stickyLease
}

func (c *Client) leaseInfo(leaseID string) (leaseInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	info, ok := c.leases[leaseID]
	return info, ok
}

func (c *Client) rememberLease(leaseID string, info leaseInfo) {
	c.mu.Lock()
	c.leases[leaseID] = info
	c.mu.Unlock()
}

// refreshToken records a fencing token the server sent back (WIRE §8.1).
func (c *Client) refreshToken(leaseID string, token int64) {
	if leaseID == "" || token <= 0 {
		return
	}
	c.mu.Lock()
	if info, ok := c.leases[leaseID]; ok && info.token != token {
		info.token = token
		c.leases[leaseID] = info
	}
	c.mu.Unlock()
}

func (c *Client) forgetLease(leaseID string) {
	c.mu.Lock()
	delete(c.leases, leaseID)
	if c.stickyLease == leaseID {
		c.stickyLease = ""
	}
	c.mu.Unlock()
}
