package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// NamespaceConfigOptions guards a namespace configuration change.
type NamespaceConfigOptions struct {
	// IfMatch makes the change conditional on the configuration ETag read
	// earlier (namespace_config_conflict otherwise).
	IfMatch string
}

// NamespaceConfigResult is a namespace configuration and its ETag.
type NamespaceConfigResult struct {
	// Config is the effective configuration.
	Config *api.NamespaceConfigResponse
	// ETag identifies a stored configuration; empty while defaults apply.
	ETag string
}

// GetNamespaceConfig reads the query-engine configuration of namespace
// (empty means the client namespace).
func (c *Client) GetNamespaceConfig(ctx context.Context, namespace string) (NamespaceConfigResult, error) {
	ns := c.namespaceOr(namespace)
	cl := call{method: http.MethodGet, path: "/v1/namespace", query: "namespace=" + url.QueryEscape(ns), retry: true}
	var out api.NamespaceConfigResponse
	hdr, _, err := c.doJSON(ctx, &cl, &out)
	if err != nil {
		return NamespaceConfigResult{}, fmt.Errorf("namespace config %s: %w", ns, err)
	}
	return NamespaceConfigResult{Config: &out, ETag: unquote(hdr.Get(api.HeaderETag))}, nil
}

// UpdateNamespaceConfig changes the query-engine configuration of
// req.Namespace (empty means the client namespace). Empty engine fields keep
// their current values.
func (c *Client) UpdateNamespaceConfig(ctx context.Context, req api.NamespaceConfigRequest, opts NamespaceConfigOptions) (NamespaceConfigResult, error) {
	req.Namespace = c.namespaceOr(req.Namespace)
	cl, err := jsonCall("/v1/namespace", req)
	if err != nil {
		return NamespaceConfigResult{}, err
	}
	cl.query = "namespace=" + url.QueryEscape(req.Namespace)
	if opts.IfMatch != "" {
		cl.setHeader(api.HeaderIfMatch, opts.IfMatch)
	}
	var out api.NamespaceConfigResponse
	hdr, _, err := c.doJSON(ctx, &cl, &out)
	if err != nil {
		return NamespaceConfigResult{}, fmt.Errorf("update namespace config %s: %w", req.Namespace, err)
	}
	return NamespaceConfigResult{Config: &out, ETag: unquote(hdr.Get(api.HeaderETag))}, nil
}
