package resources

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

//go:embed docs/*.md
var docs embed.FS

// Doc is one embedded document.
type Doc struct {
	Name, Title, Description string
}

// Docs lists the embedded documents; each is served at lockd://docs/<Name>.
func Docs() []Doc {
	return []Doc{
		{"overview", "lockd overview", "What lockd-mcp offers and the tool groups."},
		{"workflows", "lockd workflows", "Lease-per-task and tags-first memory patterns."},
		{"lql", "LQL reference", "Selector and mutation syntax for queries and lockd_state_mutate."},
		{"errors", "lockd errors", "Error codes and what to call next."},
	}
}

// DocText returns the markdown of the named document.
func DocText(name string) (string, error) {
	data, err := docs.ReadFile("docs/" + name + ".md")
	if err != nil {
		return "", fmt.Errorf("no doc %q: %w", name, err)
	}
	return string(data), nil
}

// StateTemplate is the URI template of committed state documents.
const StateTemplate = "lockd://state/{namespace}/{key}"

// maxStateBytes bounds a state document served as a resource; larger ones
// are read with lockd_get ranges or lockd_state_stream.
const maxStateBytes = 1 << 20

// Register adds the docs and the state template to srv.
func Register(srv *server.MCPServer, cli *client.Client, defaultNamespace string) {
	for _, d := range Docs() {
		uri := "lockd://docs/" + d.Name
		name := d.Name
		srv.AddResource(
			mcp.NewResource(uri, d.Title, mcp.WithResourceDescription(d.Description), mcp.WithMIMEType("text/markdown")),
			func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
				text, err := DocText(name)
				if err != nil {
					return nil, err
				}
				return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "text/markdown", Text: text}}, nil
			})
	}
	srv.AddResourceTemplate(
		mcp.NewResourceTemplate(StateTemplate, "lockd state",
			mcp.WithTemplateDescription("Committed JSON state of a key (up to 1 MiB; use lockd_get for ranges)."),
			mcp.WithTemplateMIMEType("application/json")),
		func(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			ns, key, err := ParseStateURI(req.Params.URI)
			if err != nil {
				return nil, err
			}
			if ns == "" {
				ns = defaultNamespace
			}
			text, err := readState(ctx, cli, ns, key)
			if err != nil {
				return nil, err
			}
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: req.Params.URI, MIMEType: "application/json", Text: text}}, nil
		})
}

// ParseStateURI splits lockd://state/{namespace}/{key}. The key is the rest
// of the path, so keys containing '/' work; segments may be percent-encoded.
func ParseStateURI(uri string) (namespace, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "lockd://state/")
	if !ok {
		return "", "", fmt.Errorf("resource %q is not lockd://state/{namespace}/{key}", uri)
	}
	ns, k, ok := strings.Cut(rest, "/")
	if !ok || k == "" {
		return "", "", fmt.Errorf("resource %q lacks a key: use lockd://state/{namespace}/{key}", uri)
	}
	if namespace, err = url.PathUnescape(ns); err != nil {
		return "", "", fmt.Errorf("resource %q: namespace: %w", uri, err)
	}
	if key, err = url.PathUnescape(k); err != nil {
		return "", "", fmt.Errorf("resource %q: key: %w", uri, err)
	}
	return namespace, key, nil
}

func readState(ctx context.Context, cli *client.Client, ns, key string) (string, error) {
	resp, err := cli.Get(ctx, key, client.WithGetNamespace(ns))
	if errors.Is(err, client.ErrStateNotFound) {
		return "null", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s/%s: %w", ns, key, err)
	}
	defer resp.Close()
	if !resp.HasState {
		return "null", nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Reader(), maxStateBytes+1))
	if err != nil {
		return "", fmt.Errorf("read %s/%s: %w", ns, key, err)
	}
	if len(data) > maxStateBytes {
		return "", fmt.Errorf("state of %s/%s is larger than 1 MiB: read it with lockd_get (offset, limit) or lockd_state_stream", ns, key)
	}
	return string(data), nil
}
