package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

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
	h, err := server.Start(ctx, server.Config{
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
		Logger:           log,
	})
	if err != nil {
		return err
	}
	log.Info("lockd-mcp serve ready", "url", h.URL(), "store", *store)
	select {
	case <-ctx.Done():
		log.Info("stopping: draining leases", "drain_timeout", drain.String())
	case <-h.Done():
		return fmt.Errorf("server stopped: %w", h.Err())
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), *drain+10*time.Second)
	defer cancel()
	if err := h.Stop(stopCtx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
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
