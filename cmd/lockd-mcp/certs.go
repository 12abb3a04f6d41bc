package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/lockd-mcp/lockd-mcp/internal/certs"
)

const certsUsage = `usage: lockd-mcp certs <init|issue> --dir DIR [flags]

  init  --dir DIR [--host H]...   new CA (ca.pem, ca.key) and server bundle server.pem
  issue --dir DIR --client NAME   client bundle client-NAME.pem (cert, key, CA)
  issue --dir DIR --server [--host H]...   a new server bundle (e.g. other host names)

--host may repeat; the default is localhost, 127.0.0.1, ::1 and this host's name.
Then: lockd-mcp serve --listen 0.0.0.0:9341 --store disk:///srv/lockd --bundle DIR/server.pem
and:  lockd-mcp --server https://HOST:9341 --client-bundle DIR/client-NAME.pem
`

// runCerts creates mTLS bundles for serve over TCP and remote clients.
func runCerts(_ context.Context, args []string, _ func(string) string, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, certsUsage)
		if len(args) == 0 {
			return errors.New("missing action")
		}
		return nil
	}
	action := args[0]
	fs := flag.NewFlagSet("certs "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory of the CA and bundles (created 0700)")
	clientName := fs.String("client", "", "issue: client name (certificate common name)")
	server := fs.Bool("server", false, "issue: a server bundle instead of a client bundle")
	var hosts stringList
	fs.Var(&hosts, "host", "server certificate host name or IP (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	if len(hosts) == 0 {
		hosts = defaultHosts()
	}
	var path string
	var err error
	switch {
	case action == "init":
		path, err = certs.Init(*dir, hosts)
	case action == "issue" && *server:
		path, err = certs.IssueServer(*dir, hosts)
	case action == "issue" && *clientName != "":
		path, err = certs.IssueClient(*dir, *clientName)
	case action == "issue":
		return errors.New("issue needs --client NAME or --server")
	default:
		fmt.Fprint(stderr, certsUsage)
		return fmt.Errorf("unknown action %q", action)
	}
	if err != nil {
		return err
	}
	fmt.Println(path)
	return nil
}

func defaultHosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		hosts = append(hosts, h)
	}
	return hosts
}
