package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/lockd-mcp/lockd-mcp/internal/certs"
	"github.com/lockd-mcp/lockd-mcp/internal/daemon"
	"github.com/lockd-mcp/lockd-mcp/internal/storage"
	"github.com/lockd-mcp/lockd-mcp/server"
)

// envPrefix prefixes the environment variable of every flag: --max-ttl is
// also LOCKD_MCP_MAX_TTL. A flag on the command line wins.
const envPrefix = "LOCKD_MCP_"

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func runServe(ctx context.Context, args []string, env func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen     = fs.String("listen", "127.0.0.1:9341", "address: host:port or unix:///path/lockd.sock")
		store      = fs.String("store", "mem://", "store URL: mem:// or disk:///absolute/path")
		defaultNS  = fs.String("default-namespace", "default", "namespace used when a request names none")
		defaultTTL = fs.Duration("default-ttl", 30*time.Second, "lease TTL when a request asks for ttl <= 0")
		maxTTL     = fs.Duration("max-ttl", 30*time.Minute, "largest lease TTL; longer requests are clamped")
		jsonMax    = fs.Int64("json-max", 100<<20, "largest JSON body or state document in bytes")
		drain      = fs.Duration("drain-timeout", 10*time.Second, "how long a stop waits for lease holders to release")
		tlsCert    = fs.String("tls-cert", "", "server certificate (PEM); enables TLS on tcp")
		tlsKey     = fs.String("tls-key", "", "server private key (PEM)")
		tlsCA      = fs.String("tls-client-ca", "", "CA bundle (PEM) for client certificates; enables mTLS")
		bundle     = fs.String("bundle", "", "server bundle from `lockd-mcp certs init` (cert, key, CA): TLS with client certificates required")
		noMTLS     = fs.Bool("disable-mtls", false, "on tcp, serve without client certificates: plain HTTP, or TLS only with --tls-cert/--tls-key")
		idleExit   = fs.Duration("idle-exit", 0, "stop after this long with no open connection and no live lease (0: never)")
		noIndex    = fs.Bool("disable-index", false, "turn the query index off: commits skip indexing, queries can only scan")
		logLevel   = fs.String("log-level", "info", "log level: debug, info, warn, error")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lockd-mcp serve [flags]")
		fmt.Fprintln(stderr, "\nEvery flag can also be set as an environment variable, e.g. --max-ttl as LOCKD_MCP_MAX_TTL.")
		fs.PrintDefaults()
	}
	if err := applyEnv(fs, env); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := server.Config{
		Store:            *store,
		Listen:           *listen,
		DefaultNamespace: *defaultNS,
		DefaultTTL:       *defaultTTL,
		MaxTTL:           *maxTTL,
		JSONMaxBytes:     *jsonMax,
		DrainTimeout:     *drain,
		TLSCertFile:      *tlsCert,
		TLSKeyFile:       *tlsKey,
		TLSClientCAFile:  *tlsCA,
		DisableIndex:     *noIndex,
		Logger:           log,
	}
	socket, onUnix := strings.CutPrefix(*listen, "unix://")
	if err := checkTransportSecurity(onUnix, tlsFlags{bundle: *bundle, cert: *tlsCert, key: *tlsKey, clientCA: *tlsCA, disableMTLS: *noMTLS}); err != nil {
		return err
	}
	if *bundle != "" {
		tc, err := certs.LoadServerTLS(*bundle)
		if err != nil {
			return err
		}
		cfg.TLSConfig = tc
	}
	if !onUnix && cfg.TLSConfig == nil && *tlsCert == "" && !loopback(*listen) {
		log.Warn("serving plain HTTP on a non-loopback address: anyone who can reach it can take and release leases; create bundles with `lockd-mcp certs init` and pass --bundle")
	}
	mon := daemon.NewMonitor(daemon.MonitorConfig{
		Version: versionString(), Socket: socket, Store: *store, IdleExit: *idleExit, Logger: log,
	})
	cfg.ConnState = mon.ConnState
	if onUnix {
		// The admin routes (status, stop) are guarded by the socket's 0600
		// mode; over TCP they would need an authorisation story of their own.
		cfg.Wrap = mon.Wrap
	}
	h, err := server.Start(ctx, cfg)
	if errors.Is(err, storage.ErrLocked) {
		// Another daemon owns the data directory: the expected outcome for
		// all but one of several concurrent starters.
		return exitError{code: daemon.ExitLocked, err: err}
	}
	if err != nil {
		return err
	}
	mon.Attach(h.ActiveLeases)
	log.Info("lockd-mcp serve ready", "url", h.URL(), "store", *store, "version", versionString(), "idle_exit", idleExit.String())
	drainFor := *drain
	select {
	case <-ctx.Done():
		log.Info("stopping: draining leases", "drain_timeout", drain.String())
	case d := <-mon.StopRequested():
		if d >= 0 {
			drainFor = d
		}
		log.Info("stopping on request: draining leases", "drain_timeout", drainFor.String())
	case <-mon.Idle(h.Done()):
		log.Info("stopping: idle with no connection and no lease", "idle_exit", idleExit.String())
	case <-h.Done():
		return fmt.Errorf("server stopped: %w", h.Err())
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), drainFor+10*time.Second)
	defer cancel()
	if err := h.Stop(stopCtx, server.WithDrainTimeout(drainFor)); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// tlsFlags are serve's transport-security flags.
type tlsFlags struct {
	bundle, cert, key, clientCA string
	disableMTLS                 bool
}

// checkTransportSecurity enforces mTLS by default on TCP: a lease server
// anyone on the network (or any local user, even on loopback) can reach
// must ask for client certificates unless the operator says otherwise with
// --disable-mtls. A unix socket is guarded by its file mode instead.
func checkTransportSecurity(onUnix bool, f tlsFlags) error {
	if f.bundle != "" && (f.cert != "" || f.key != "" || f.clientCA != "") {
		return errors.New("--bundle replaces --tls-cert/--tls-key/--tls-client-ca; give one or the other")
	}
	if (f.cert == "") != (f.key == "") {
		return errors.New("--tls-cert and --tls-key go together: give both")
	}
	if f.clientCA != "" && f.cert == "" {
		return errors.New("--tls-client-ca needs --tls-cert and --tls-key (or use --bundle)")
	}
	mtls := f.bundle != "" || f.clientCA != ""
	switch {
	case f.disableMTLS && mtls:
		return errors.New("--disable-mtls contradicts --bundle/--tls-client-ca, which require client certificates: drop one")
	case onUnix || mtls || f.disableMTLS:
		return nil
	case f.cert != "":
		return errors.New("--tls-cert without --tls-client-ca serves TLS without client certificates: add --tls-client-ca, or --disable-mtls to accept any client")
	}
	return errors.New("serve over TCP requires mTLS: create bundles with `lockd-mcp certs init --dir DIR` and pass --bundle DIR/server.pem, " +
		"listen on unix:///path/lockd.sock, or pass --disable-mtls to serve plain HTTP to anyone who can connect")
}

// loopback reports whether a host:port listen address is reachable only
// from this machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// applyEnv sets every flag that has a LOCKD_MCP_* variable, before the
// command line is parsed so flags win.
func applyEnv(fs *flag.FlagSet, env func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil {
			return
		}
		name := envName(f.Name)
		if v := env(name); v != "" {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%s: %w", name, strconv.Quote(v), serr)
			}
		}
	})
	return err
}
