package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Config configures an embedded server. Zero values take the defaults noted
// on each field.
type Config struct {
	// Store is the storage URL: "mem://" (default) or "disk:///abs/path".
	Store string
	// Listen is the address: host:port for tcp (default "127.0.0.1:9341";
	// port 0 picks a free one), a socket path for unix. "unix:///path" also
	// selects unix regardless of ListenProto.
	Listen string
	// ListenProto is "tcp" (default) or "unix".
	ListenProto string
	// DefaultNamespace is used when a request names none (default "default").
	DefaultNamespace string
	// DefaultTTL applies to leases requested with ttl <= 0 (default 30 s).
	DefaultTTL time.Duration
	// MaxTTL clamps requested lease TTLs (default 30 min).
	MaxTTL time.Duration
	// AcquireBlockMax bounds acquires with block_seconds < -1 (default 60 s).
	AcquireBlockMax time.Duration
	// JSONMaxBytes caps JSON request bodies and state documents (default
	// 100 MiB).
	JSONMaxBytes int64
	// DrainTimeout is how long Stop waits for lease holders to release
	// before closing (default 10 s; override per call with WithDrainTimeout).
	DrainTimeout time.Duration
	// DisableIndex turns the inverted query index off (engine.Options):
	// commits skip indexing, /v1/query can only scan (engine=index gives
	// 400 query_engine_unavailable, auto scans only where the namespace
	// allows it, WIRE §5.3) and /v1/index/flush gives 501
	// index_unavailable (WIRE §5.2). For servers that never query, and to
	// measure what indexing costs a commit.
	DisableIndex bool

	// TLSCertFile and TLSKeyFile enable TLS on tcp listeners.
	TLSCertFile, TLSKeyFile string
	// TLSClientCAFile enables mTLS: clients must present a certificate that
	// chains to this CA bundle (RequireAndVerifyClientCert).
	TLSClientCAFile string
	// TLSConfig, when set, is used as is instead of the files above.
	TLSConfig *tls.Config

	// Logger receives server logs (default: slog text handler on stderr).
	Logger *slog.Logger

	// ConnState, when set, is called on every connection state change, as
	// http.Server.ConnState. A daemon counts open connections with it to
	// decide when it is idle.
	ConnState func(net.Conn, http.ConnState)
	// Wrap, when set, wraps the lockd router, for endpoints that are not
	// part of the lockd wire (a daemon's admin and status routes) and
	// headers such as the daemon version on /healthz.
	Wrap func(http.Handler) http.Handler
}

const (
	defaultListen       = "127.0.0.1:9341"
	defaultJSONMaxBytes = 100 << 20
)

func (c *Config) setDefaults() {
	if c.Store == "" {
		c.Store = "mem://"
	}
	if rest, ok := strings.CutPrefix(c.Listen, "unix://"); ok {
		c.Listen, c.ListenProto = rest, "unix"
	}
	if c.ListenProto == "" {
		c.ListenProto = "tcp"
	}
	if c.Listen == "" && c.ListenProto == "tcp" {
		c.Listen = defaultListen
	}
	if c.DefaultNamespace == "" {
		c.DefaultNamespace = "default"
	}
	if c.DefaultTTL <= 0 {
		c.DefaultTTL = 30 * time.Second
	}
	if c.MaxTTL <= 0 {
		c.MaxTTL = 30 * time.Minute
	}
	if c.AcquireBlockMax <= 0 {
		c.AcquireBlockMax = 60 * time.Second
	}
	if c.JSONMaxBytes <= 0 {
		c.JSONMaxBytes = defaultJSONMaxBytes
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
}

func (c *Config) validate() error {
	switch c.ListenProto {
	case "tcp", "unix":
	default:
		return fmt.Errorf("server: ListenProto %q: use tcp or unix", c.ListenProto)
	}
	if c.ListenProto == "unix" && c.Listen == "" {
		return errors.New("server: unix listener needs a socket path in Listen")
	}
	if c.ListenProto == "unix" && c.tlsEnabled() {
		return errors.New("server: TLS is only supported on tcp listeners (lockd clients reach unix sockets without TLS)")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("server: TLSCertFile and TLSKeyFile must be set together")
	}
	if c.TLSClientCAFile != "" && c.TLSCertFile == "" && c.TLSConfig == nil {
		return errors.New("server: TLSClientCAFile (mTLS) needs a server certificate: set TLSCertFile and TLSKeyFile")
	}
	if _, err := normalizeDefaultNS(c.DefaultNamespace); err != nil {
		return err
	}
	return nil
}

func (c *Config) tlsEnabled() bool { return c.TLSConfig != nil || c.TLSCertFile != "" }

// buildTLS returns the listener's TLS config, or nil for plain HTTP.
func (c *Config) buildTLS() (*tls.Config, error) {
	if c.TLSConfig != nil {
		return c.TLSConfig.Clone(), nil
	}
	if c.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("server: load TLS certificate: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if c.TLSClientCAFile != "" {
		pem, err := os.ReadFile(c.TLSClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("server: read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("server: client CA %s holds no PEM certificate", c.TLSClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
