package tools

import (
	"context"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

// namespaceToolset holds the namespace configuration tools.
func namespaceToolset() Toolset {
	return Toolset{
		Name:        "namespace",
		Description: "Per-namespace query engine settings.",
		Read: []Tool{
			newTool("lockd_namespace_get", "lockd.namespace.get",
				"Read a namespace's query engine settings and etag.",
				Annotations{ReadOnly: true, Idempotent: true}, namespaceGet),
		},
		Write: []Tool{
			newTool("lockd_namespace_update", "lockd.namespace.update",
				"Set a namespace's preferred and fallback query engines; if_match guards with the etag from lockd_namespace_get.",
				Annotations{Idempotent: true}, namespaceUpdate),
		},
	}
}

// NamespaceGetArgs are the arguments of lockd_namespace_get.
type NamespaceGetArgs struct {
	Namespace string `json:"namespace,omitempty"`
}

// NamespaceResult is a namespace's configuration.
type NamespaceResult struct {
	Namespace       string `json:"namespace"`
	PreferredEngine string `json:"preferred_engine"`
	FallbackEngine  string `json:"fallback_engine"`
	ETag            string `json:"etag"`
}

func toNamespaceResult(ns string, r client.NamespaceConfigResult) NamespaceResult {
	out := NamespaceResult{Namespace: ns, ETag: r.ETag}
	if r.Config != nil {
		if r.Config.Namespace != "" {
			out.Namespace = r.Config.Namespace
		}
		out.PreferredEngine, out.FallbackEngine = r.Config.Query.PreferredEngine, r.Config.Query.FallbackEngine
	}
	return out
}

func namespaceGet(ctx context.Context, d *Deps, a NamespaceGetArgs) (NamespaceResult, error) {
	ns := d.ns(a.Namespace)
	r, err := d.Client.GetNamespaceConfig(ctx, ns)
	if err != nil {
		return NamespaceResult{}, err
	}
	return toNamespaceResult(ns, r), nil
}

// NamespaceUpdateArgs are the arguments of lockd_namespace_update.
type NamespaceUpdateArgs struct {
	PreferredEngine string `json:"preferred_engine" jsonschema:"required,enum=index,enum=scan"`
	FallbackEngine  string `json:"fallback_engine" jsonschema:"required,enum=scan,enum=none"`
	Namespace       string `json:"namespace,omitempty"`
	IfMatch         string `json:"if_match,omitempty"`
}

func namespaceUpdate(ctx context.Context, d *Deps, a NamespaceUpdateArgs) (NamespaceResult, error) {
	ns := d.ns(a.Namespace)
	r, err := d.Client.UpdateNamespaceConfig(ctx, api.NamespaceConfigRequest{
		Namespace: ns,
		Query:     &api.NamespaceQueryConfig{PreferredEngine: a.PreferredEngine, FallbackEngine: a.FallbackEngine},
	}, client.NamespaceConfigOptions{IfMatch: a.IfMatch})
	if err != nil {
		return NamespaceResult{}, err
	}
	return toNamespaceResult(ns, r), nil
}
