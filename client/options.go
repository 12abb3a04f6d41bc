package client

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// Defaults mirror the tuning of the reference lockd SDK and CLI, so a program
// using this package behaves like `lockd client ...` unless it says otherwise.
const (
	// DefaultHTTPTimeout bounds one HTTP exchange with a single endpoint.
	DefaultHTTPTimeout = 15 * time.Second
	// DefaultMultiEndpointHTTPTimeout replaces DefaultHTTPTimeout when more
	// than one endpoint is configured, so a hung node costs little before
	// failover moves on.
	DefaultMultiEndpointHTTPTimeout = 3 * time.Second
	// DefaultCloseTimeout bounds the releases Client.Close and the drain
	// handler issue on their own.
	DefaultCloseTimeout = 5 * time.Second
	// DefaultKeepAliveTimeout bounds one keepalive request.
	DefaultKeepAliveTimeout = 5 * time.Second
	// DefaultMaxIdleConns is the idle connection pool size of the default transport.
	DefaultMaxIdleConns = 256
	// DefaultMaxIdleConnsPerHost is the per-endpoint idle pool size.
	DefaultMaxIdleConnsPerHost = 128
	// DefaultForUpdateTimeout bounds the acquire+get handshake of AcquireForUpdate.
	DefaultForUpdateTimeout = 15 * time.Minute
	// DefaultAcquireBaseDelay is the first sleep of the acquire retry loop.
	DefaultAcquireBaseDelay = time.Second
	// DefaultAcquireMaxDelay caps the acquire retry sleep.
	DefaultAcquireMaxDelay = 5 * time.Second
	// DefaultAcquireMultiplier grows the acquire retry sleep between attempts.
	DefaultAcquireMultiplier = 1.2
	// DefaultAcquireJitter is the ± window applied once the sleep reaches its cap.
	DefaultAcquireJitter = 100 * time.Millisecond
	// DefaultFailureRetries is how often non-acquire calls retry transport
	// failures and passive nodes.
	DefaultFailureRetries = 5
	// DefaultAcquireFailureRetries is how often Acquire retries failures that
	// are not lease conflicts (transport errors, 400s).
	DefaultAcquireFailureRetries = DefaultFailureRetries
	// DefaultNamespace is sent whenever a caller leaves the namespace empty;
	// the SDK never relies on the server's own default.
	DefaultNamespace = "default"
	// DefaultPort is the port a bare host name is given.
	DefaultPort = "9341"
)

// Block values for api.AcquireRequest.BlockSecs.
const (
	// BlockWaitForever makes Acquire wait until the lease is free or the
	// context ends. It is the zero value, so omitting BlockSecs waits.
	BlockWaitForever int64 = 0
	// BlockNoWait makes Acquire try exactly once.
	BlockNoWait int64 = api.BlockNoWait
)

// Retry delays of the non-acquire retry loop (WIRE §8.5).
const (
	failureRetryBase = 10 * time.Millisecond
	failureRetryMax  = 500 * time.Millisecond
)

// Option customises a Client at construction.
type Option func(*Client)

// settings holds everything an Option can change. Keeping it apart from the
// live state of Client makes it obvious which fields are fixed after New.
type settings struct {
	disableMTLS      bool
	bundlePath       string
	bundlePEM        []byte
	bundleNoExpand   bool
	httpClient       *http.Client
	httpTimeout      time.Duration
	httpTimeoutSet   bool
	closeTimeout     time.Duration
	keepAliveTimeout time.Duration
	forUpdateTimeout time.Duration
	failureRetries   int
	shuffle          bool
	drainAware       bool
	defaultNamespace string
	logger           *slog.Logger
	httpTrace        bool
}

func defaultSettings() settings {
	return settings{
		closeTimeout:     DefaultCloseTimeout,
		keepAliveTimeout: DefaultKeepAliveTimeout,
		forUpdateTimeout: DefaultForUpdateTimeout,
		failureRetries:   DefaultFailureRetries,
		shuffle:          true,
		drainAware:       true,
		defaultNamespace: DefaultNamespace,
	}
}

// WithDisableMTLS turns mutual TLS off. Bare endpoints then default to
// http://, and https:// endpoints verify the server against the system roots
// without presenting a client certificate.
func WithDisableMTLS(disable bool) Option {
	return func(c *Client) { c.set.disableMTLS = disable }
}

// WithBundlePath loads the mTLS bundle (client certificate, its key and the
// CA certificate, all PEM) from path. A leading "~/" and $VARS are expanded
// unless WithBundlePathDisableExpansion is also given.
func WithBundlePath(path string) Option {
	return func(c *Client) { c.set.bundlePath = path }
}

// WithBundlePathDisableExpansion makes WithBundlePath use its path literally.
func WithBundlePathDisableExpansion() Option {
	return func(c *Client) { c.set.bundleNoExpand = true }
}

// WithBundlePEM supplies the mTLS bundle from memory. It wins over any
// bundle path.
func WithBundlePEM(pemBytes []byte) Option {
	return func(c *Client) { c.set.bundlePEM = append([]byte(nil), pemBytes...) }
}

// WithHTTPClient replaces the HTTP client the SDK builds. TLS, proxies and
// pooling are then the caller's business; unix:// endpoints still get a
// socket dialer when the client's transport is an *http.Transport.
func WithHTTPClient(cli *http.Client) Option {
	return func(c *Client) { c.set.httpClient = cli }
}

// WithHTTPTimeout bounds each HTTP exchange. It does not apply to waiting
// acquires, streaming updates or describe, whose duration is the caller's
// to choose through the context. Zero or less disables the bound.
func WithHTTPTimeout(d time.Duration) Option {
	return func(c *Client) { c.set.httpTimeout = d; c.set.httpTimeoutSet = true }
}

// WithCloseTimeout bounds the releases issued by Client.Close, by
// LeaseSession.Close and by the drain handler.
func WithCloseTimeout(d time.Duration) Option {
	return func(c *Client) { c.set.closeTimeout = d }
}

// WithKeepAliveTimeout bounds each keepalive request.
func WithKeepAliveTimeout(d time.Duration) Option {
	return func(c *Client) { c.set.keepAliveTimeout = d }
}

// WithForUpdateTimeout bounds the acquire+get handshake of AcquireForUpdate.
// The handler itself runs under the caller's context only.
func WithForUpdateTimeout(d time.Duration) Option {
	return func(c *Client) { c.set.forUpdateTimeout = d }
}

// WithFailureRetries sets how often non-acquire calls retry transport
// failures and passive nodes; a negative value retries without bound.
func WithFailureRetries(n int) Option {
	return func(c *Client) { c.set.failureRetries = n }
}

// WithEndpointShuffle turns the per-request shuffle of the endpoint list on
// or off. Off means endpoints are tried in the order given.
func WithEndpointShuffle(enabled bool) Option {
	return func(c *Client) { c.set.shuffle = enabled }
}

// WithDrainAwareShutdown turns the drain handler on or off: when a response
// carries Shutdown-Imminent, the sessions obtained from that endpoint are
// released in the background (rolled back) and reported lost.
func WithDrainAwareShutdown(enabled bool) Option {
	return func(c *Client) { c.set.drainAware = enabled }
}

// WithDefaultNamespace sets the namespace used when a call leaves it empty.
func WithDefaultNamespace(ns string) Option {
	return func(c *Client) { c.set.defaultNamespace = ns }
}

// WithLogger sets the logger for SDK diagnostics; nil discards them.
func WithLogger(logger *slog.Logger) Option {
	return func(c *Client) { c.set.logger = logger }
}

// WithHTTPTrace logs connection-level events (dial, TLS, reuse, first byte)
// of every request at debug level through the client logger.
func WithHTTPTrace() Option {
	return func(c *Client) { c.set.httpTrace = true }
}

// Bool returns a pointer to v, for optional fields such as
// MetadataOptions.QueryHidden.
func Bool(v bool) *bool { return &v }

// Int64 returns a pointer to v, for optional fields such as
// UpdateOptions.IfVersion.
func Int64(v int64) *int64 { return &v }
