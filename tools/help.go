package tools

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// helpToolset holds lockd_hint and lockd_help: what this server is, its
// defaults and limits, and the workflows that use the other tools well.
func helpToolset() Toolset {
	ro := Annotations{ReadOnly: true, Idempotent: true}
	return Toolset{
		Name:        "help",
		Description: "Server facts and usage guides.",
		Read: []Tool{
			newTool("lockd_hint", "lockd.hint",
				"Server facts: default namespace, inline payload limit, toolsets, allowed file roots. Call first.",
				ro, hint),
			newTool("lockd_help", "lockd.help",
				"Usage guide for a topic: overview, leases, state, query, lql, streams, errors.",
				ro, help),
		},
	}
}

// HintArgs takes no arguments.
type HintArgs struct{}

// HintResult describes this server. The facade's token fields are kept for
// prompts written against it; lockd-mcp has no tokens, so they are empty.
type HintResult struct {
	ClientID              string   `json:"client_id"`
	DefaultNamespace      string   `json:"default_namespace"`
	InlineMaxPayloadBytes int64    `json:"inline_max_payload_bytes"`
	NamespaceHints        []string `json:"namespace_hints"`
	Notes                 []string `json:"notes"`
	Source                string   `json:"source"`
	ClaimURIs             []string `json:"claim_uris"`
	TokenScopes           []string `json:"token_scopes"`
	WildcardPermission    bool     `json:"wildcard_permission"`
	Toolsets              []string `json:"toolsets"`
	ReadOnly              bool     `json:"read_only"`
	AllowRoots            []string `json:"allow_roots"`
	DefaultOwner          string   `json:"default_owner"`
}

func hint(_ context.Context, d *Deps, _ HintArgs) (HintResult, error) {
	res := HintResult{
		ClientID:              d.clientName,
		DefaultNamespace:      d.Config.Namespace,
		InlineMaxPayloadBytes: d.Config.InlineMaxBytes,
		NamespaceHints:        []string{d.Config.Namespace},
		Notes: []string{
			"Omit namespace to use the default; omit owner to use default_owner.",
			"Leases from lockd_lock_acquire are renewed automatically (auto_keepalive) and released with rollback when this session ends.",
			"Payloads larger than inline_max_payload_bytes: use output_path/payload_path or the write_stream tools.",
			"Docs: resources lockd://docs/overview, lockd://docs/workflows, lockd://docs/lql, lockd://docs/errors.",
		},
		Source:       d.Config.Source,
		ClaimURIs:    []string{},
		TokenScopes:  []string{},
		Toolsets:     []string{},
		AllowRoots:   []string{},
		DefaultOwner: d.owner(""),
	}
	if note := modeNote(d.Config.Source); note != "" {
		res.Notes = append(res.Notes, note)
	}
	if d.Registry != nil {
		res.Toolsets = d.Registry.Toolsets()
		res.ReadOnly = d.Registry.Options().ReadOnly
	}
	if d.Roots != nil {
		res.AllowRoots = d.Roots.List()
	}
	return res, nil
}

// modeNote tells the agent who else sees its leases: the mode is the
// prefix of Config.Source ("daemon:", "in-process mem:", ...).
func modeNote(source string) string {
	mode, _, _ := strings.Cut(source, ":")
	switch mode {
	case "daemon":
		return "Mode daemon: every lockd-mcp on this machine shares this store, so leases coordinate with other local agents."
	case "in-process mem":
		return "Mode in-process mem: a private in-memory store; no other agent sees these leases and all state is lost when this session ends."
	case "in-process disk":
		return "Mode in-process disk: a private server on a disk store; no other lockd-mcp can use that store while this one runs."
	case "remote":
		return "Mode remote: a lockd server shared by every client configured with it."
	}
	return ""
}

// HelpArgs selects a topic.
type HelpArgs struct {
	Topic string `json:"topic,omitempty" jsonschema:"enum=overview,enum=leases,enum=state,enum=query,enum=lql,enum=streams,enum=errors" jsonschema_description:"Default overview."`
}

// HelpResult is one topic of the usage guide.
type HelpResult struct {
	Topic      string   `json:"topic"`
	Summary    string   `json:"summary"`
	Defaults   []string `json:"defaults"`
	Invariants []string `json:"invariants"`
	NextCalls  []string `json:"next_calls"`
	Resources  []string `json:"resources"`
}

// helpTopics is the usage guide. It is data so lockd_help, the tests and
// the docs resources agree on the topic list; a function so no caller can
// mutate a shared copy.
func helpTopics() map[string]HelpResult {
	return map[string]HelpResult{
		"overview": {
			Summary: "lockd gives agents exclusive leases (TTL + fencing token), JSON state per key with compare-and-set, and LQL queries over state.",
			Invariants: []string{
				"Writes to a key need the lease on it: acquire, write, release.",
				"Writes are staged under the lease's txn and become visible on release; release with rollback discards them.",
			},
			NextCalls: []string{"lockd_lock_acquire", "lockd_get", "lockd_state_put", "lockd_query"},
			Resources: []string{"lockd://docs/overview", "lockd://docs/workflows"},
		},
		"leases": {
			Summary: "lockd_lock_acquire grants an exclusive lease on key for ttl_seconds. This MCP session renews it (auto_keepalive) until lockd_lock_release or session end.",
			Invariants: []string{
				"One holder per key; others get the holder's owner and expires_at_unix.",
				"block_seconds>0 waits for the key (progress notifications while waiting); -1 or 0 fails at once.",
				"fencing_token grows with every grant; writes default fencing_token and txn_id to this session's lease, so pass lease_id only.",
				"Session end releases every held lease with rollback.",
			},
			NextCalls: []string{"lockd_lock_status", "lockd_lock_keepalive", "lockd_lock_release"},
			Resources: []string{"lockd://docs/workflows"},
		},
		"state": {
			Summary: "Each key holds one JSON document with a version and etag. Read with lockd_get (no lease needed); write under a lease with lockd_state_update/patch/mutate, or one-shot with lockd_state_put/delete.",
			Invariants: []string{
				"if_version / if_etag make a write fail with the current version when someone else wrote first.",
				"lockd_get returns at most inline_max_payload_bytes inline; page with offset+limit or use output_path.",
			},
			NextCalls: []string{"lockd_get", "lockd_state_put", "lockd_state_patch", "lockd_describe"},
			Resources: []string{"lockd://docs/workflows", "lockd://state/{namespace}/{key}"},
		},
		"query": {
			Summary: "lockd_query returns keys whose committed state matches an LQL selector; lockd_query_stream returns the documents (inline rows or NDJSON to output_path).",
			Invariants: []string{
				"Pages: pass the returned cursor back until it is empty.",
				"lockd_query_stream shortens a page to fit inline_max_payload_bytes (truncated=true) and its cursor resumes after the last row; use output_path for big pages.",
				"Keys hidden with query_hidden are never returned.",
				"After writes, use refresh=wait_for or lockd_index_flush for read-your-writes.",
			},
			NextCalls: []string{"lockd_query", "lockd_query_stream", "lockd_index_flush"},
			Resources: []string{"lockd://docs/lql"},
		},
		"lql": {
			Summary: `Selectors: /status="open", /n>=3, eq{field=/status,value=open}, exists{/tags/urgent}, prefix{field=/name,value=ab}, in{field=/s,any=a|b}; comma means AND; or.X adds an OR branch. Mutations: /a/b=1, /tags/x=true, /n++, /n=+2, rm:/a, time:/at=NOW.`,
			Invariants: []string{
				"Fields are JSON Pointers.",
				"Mutations apply in order to the lease-visible document.",
			},
			NextCalls: []string{"lockd_query", "lockd_state_mutate"},
			Resources: []string{"lockd://docs/lql"},
		},
		"streams": {
			Summary: "Large state: lockd_state_write_stream_begin (under a lease) → _append chunks (chunk_text or chunk_base64) → _commit with expected_bytes/expected_sha256; _abort discards. Or pass payload_path / output_path inside an allowed root.",
			Invariants: []string{
				"Chunks flow straight to the server; nothing is buffered whole.",
				"A stream idle past the idle timeout is aborted and nothing is staged.",
				"The write is staged under the lease; release commits it.",
			},
			NextCalls: []string{"lockd_state_write_stream_begin", "lockd_state_stream"},
			Resources: []string{"lockd://docs/workflows"},
		},
		"errors": {
			Summary: "Every failure is an isError result naming the argument or server condition and the next tool to call.",
			Invariants: []string{
				"version_conflict / etag_mismatch: re-read with lockd_get, then retry with the current version.",
				"waiting (key held): the error names owner and expires_at_unix; retry with block_seconds.",
				"lease_expired / lease_required: lockd_lock_acquire again.",
			},
			NextCalls: []string{"lockd_describe", "lockd_lock_status"},
			Resources: []string{"lockd://docs/errors"},
		},
	}
}

// HelpTopics lists the topics lockd_help answers.
func HelpTopics() []string {
	topics := helpTopics()
	out := make([]string, 0, len(topics))
	for k := range topics {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func help(_ context.Context, d *Deps, args HelpArgs) (HelpResult, error) {
	topic := strings.ToLower(strings.TrimSpace(args.Topic))
	if topic == "" {
		topic = "overview"
	}
	res, ok := helpTopics()[topic]
	if !ok {
		return HelpResult{}, failf("argument topic: unknown topic %q; use one of %s", args.Topic, strings.Join(HelpTopics(), ", "))
	}
	res.Topic = topic
	res.Defaults = []string{
		"namespace=" + d.Config.Namespace,
		"owner=" + d.owner(""),
		"inline_max_payload_bytes=" + strconv.FormatInt(d.Config.InlineMaxBytes, 10),
		"ttl_seconds=30",
		"auto_keepalive=true",
	}
	return res, nil
}
