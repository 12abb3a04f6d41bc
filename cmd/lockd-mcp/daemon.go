package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lockd-mcp/lockd-mcp/internal/daemon"
)

const daemonUsage = `usage: lockd-mcp daemon <status|start|stop|logs> [flags]

The shared local daemon is "lockd-mcp serve" on $LOCKD_MCP_HOME/lockd.sock
with the disk store in $LOCKD_MCP_HOME/data. Every lockd-mcp started without
--store or --server uses it and starts it when none runs; it exits after
--idle-exit (default 10m, LOCKD_MCP_DAEMON_IDLE_EXIT) with no connection and
no live lease.

  status [--json]        pid, version, socket, store, uptime, connections, live leases
  start                  start it now (normally not needed)
  stop [--drain 10s]     drain (lease holders may finish) and exit
  logs [-f]              print the daemon log; -f follows it

A clean stop keeps leases and staged writes in the store: a lockd-mcp still
running starts the daemon again on its next call, and its leases carry on.
`

// runDaemon manages the shared local daemon of $LOCKD_MCP_HOME.
func runDaemon(ctx context.Context, args []string, env func(string) string, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, daemonUsage)
		if len(args) == 0 {
			return errors.New("missing action")
		}
		return nil
	}
	layout, err := daemon.HomeFromEnv(env)
	if err != nil {
		return err
	}
	action, rest := args[0], args[1:]
	fs := flag.NewFlagSet("daemon "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "status: print the status as JSON")
	drain := fs.Duration("drain", -1, "stop: how long lease holders may keep working (default: the daemon's --drain-timeout)")
	follow := fs.Bool("f", false, "logs: keep printing what is appended")
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	admin := daemon.NewAdminClient(layout.Socket())
	switch action {
	case "status":
		return daemonStatus(ctx, layout, admin, *asJSON)
	case "start":
		return daemonStart(ctx, layout, env)
	case "stop":
		return daemonStop(ctx, layout, admin, *drain)
	case "logs":
		return daemonLogs(ctx, layout, *follow)
	}
	fmt.Fprint(stderr, daemonUsage)
	return fmt.Errorf("unknown action %q", action)
}

func daemonStatus(ctx context.Context, l daemon.Layout, admin *daemon.AdminClient, asJSON bool) error {
	st, err := admin.Status(ctx)
	if daemon.NotRunning(err) {
		held, pid := daemon.DataDirHeld(l.DataDir())
		_, statErr := os.Stat(l.Socket())
		switch {
		case held:
			return fmt.Errorf("pid %d holds %s but nothing answers on %s: it is starting or stopping", pid, l.DataDir(), l.Socket())
		case statErr == nil:
			return fmt.Errorf("no daemon running; %s is a stale socket of a daemon that was killed (the next lockd-mcp replaces it)", l.Socket())
		}
		return fmt.Errorf("no daemon running on %s (the next lockd-mcp starts one)", l.Socket())
	}
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	idle := "never"
	if st.IdleExitSeconds > 0 {
		idle = (time.Duration(st.IdleExitSeconds * float64(time.Second))).String()
	}
	fmt.Printf("pid:          %d\nversion:      %s\nsocket:       %s\nstore:        %s\nuptime:       %s\nconnections:  %d (this status request included)\nlive leases:  %d\nidle exit:    %s\nlog:          %s\n",
		st.PID, st.Version, st.Socket, st.Store, time.Duration(st.UptimeSeconds*float64(time.Second)).Round(time.Second),
		st.Connections, st.LiveLeases, idle, l.LogFile())
	if st.Stopping {
		fmt.Println("state:        stopping")
	}
	return nil
}

func daemonStart(ctx context.Context, l daemon.Layout, env func(string) string) error {
	if err := l.Prepare(); err != nil {
		return err
	}
	idle, err := daemonIdleExit(env)
	if err != nil {
		return err
	}
	st, err := daemon.NewStarter(daemon.Options{Layout: l, Version: versionString(), IdleExit: idle})
	if err != nil {
		return err
	}
	if err := st.Ensure(ctx); err != nil {
		return err
	}
	fmt.Println("daemon running on", l.Socket())
	return nil
}

func daemonStop(ctx context.Context, l daemon.Layout, admin *daemon.AdminClient, drain time.Duration) error {
	st, err := admin.Stop(ctx, drain)
	if daemon.NotRunning(err) {
		fmt.Println("no daemon running on", l.Socket())
		return nil
	}
	if err != nil {
		return err
	}
	wait := 20 * time.Second
	if drain >= 0 {
		wait = drain + 10*time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := admin.WaitGone(wctx); err != nil {
		return err
	}
	// The socket is gone before the store is closed; wait for the flock so
	// a caller that restarts right away does not race the old process.
	for held, _ := daemon.DataDirHeld(l.DataDir()); held && wctx.Err() == nil; held, _ = daemon.DataDirHeld(l.DataDir()) {
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("stopped daemon pid %d (%d live leases when asked)\n", st.PID, st.LiveLeases)
	return nil
}

func daemonLogs(ctx context.Context, l daemon.Layout, follow bool) error {
	f, err := os.Open(l.LogFile())
	if err != nil {
		return fmt.Errorf("daemon log: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(os.Stdout, f); err != nil {
		return err
	}
	for follow {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
		if _, err := io.Copy(os.Stdout, f); err != nil {
			return err
		}
	}
	return nil
}

// daemonIdleExit is the --idle-exit a starter gives the daemon:
// LOCKD_MCP_DAEMON_IDLE_EXIT, else daemon.DefaultIdleExit.
func daemonIdleExit(env func(string) string) (time.Duration, error) {
	v := env("LOCKD_MCP_DAEMON_IDLE_EXIT")
	if v == "" {
		return daemon.DefaultIdleExit, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("LOCKD_MCP_DAEMON_IDLE_EXIT=%q: want a positive duration such as 10m", v)
	}
	return d, nil
}
