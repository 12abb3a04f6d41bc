package tools

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

// stateToolset holds the JSON state tools: reads, lease-bound writes and the
// one-shot put/delete that acquire and release around a single write.
func stateToolset() Toolset {
	ro := Annotations{ReadOnly: true, Idempotent: true}
	return Toolset{
		Name:        "state",
		Description: "JSON state per key: read, compare-and-set writes, LQL mutations, merge patches.",
		Read: []Tool{
			newTool("lockd_get", "lockd.get",
				"Read a key's JSON state (staged view with lease_id); page with offset+limit or use output_path.",
				ro, stateGet),
			newTool("lockd_describe", "lockd.describe",
				"Key metadata: holder, lease expiry, version, etag. No payload.",
				ro, stateDescribe),
		},
		Write: []Tool{
			newTool("lockd_state_update", "lockd.state.update",
				"Replace a key's state under its lease, staged until release. Give one payload_* argument.",
				Annotations{}, stateUpdate).liftable("payload_text", "payload_base64"),
			newTool("lockd_state_put", "lockd.state.put",
				"One-shot: acquire, replace state, release (commit). Fails if held unless block_seconds.",
				Annotations{}, statePut).liftable("payload_text", "payload_base64"),
			newTool("lockd_state_mutate", "lockd.state.mutate",
				"LQL mutations (e.g. /status=done, /n++, rm:/tmp) on a key's state under its lease.",
				Annotations{}, stateMutate),
			newTool("lockd_state_patch", "lockd.state.patch",
				"RFC 7396 merge patch (null deletes a field) on a key's state under its lease.",
				Annotations{}, statePatch),
			newTool("lockd_state_metadata", "lockd.state.metadata",
				"Set query_hidden under a lease; queries skip hidden keys.",
				Annotations{Idempotent: true}, stateMetadata),
			newTool("lockd_state_remove", "lockd.state.remove",
				"Delete a key's state under its lease (staged until release).",
				Annotations{Destructive: true, Idempotent: true}, stateRemove),
			newTool("lockd_state_delete", "lockd.state.delete",
				"One-shot: acquire, remove state, release (commit).",
				Annotations{Destructive: true, Idempotent: true}, stateDelete),
		},
	}
}

// Guards are the lease-bound write arguments shared by every write tool.
// fencing_token and txn_id default to the session lease's (lockd_help says
// so once instead of every schema repeating it).
type Guards struct {
	IfETag       string `json:"if_etag,omitempty"`
	IfVersion    *int64 `json:"if_version,omitempty"`
	FencingToken *int64 `json:"fencing_token,omitempty"`
	TxnID        string `json:"txn_id,omitempty"`
}

// updateOptions fills the SDK options, defaulting txn and fencing token from
// the session lease so an agent only has to pass lease_id.
func (d *Deps) updateOptions(ns, leaseID string, g Guards) client.UpdateOptions {
	opts := client.UpdateOptions{Namespace: ns, IfETag: g.IfETag, IfVersion: g.IfVersion, FencingToken: g.FencingToken, TxnID: g.TxnID}
	if held, ok := d.Leases.Get(leaseID); ok {
		if opts.TxnID == "" {
			opts.TxnID = held.TxnID
		}
		if opts.FencingToken == nil {
			opts.FencingToken = client.Int64(held.FencingToken)
		}
	}
	d.touchLease(leaseID)
	return opts
}

// GetArgs are the arguments of lockd_get.
type GetArgs struct {
	Key         string `json:"key" jsonschema:"required,minLength=1"`
	Namespace   string `json:"namespace,omitempty"`
	LeaseID     string `json:"lease_id,omitempty"`
	Public      *bool  `json:"public,omitempty" jsonschema_description:"Committed state without a lease (default true)."`
	PayloadMode string `json:"payload_mode,omitempty" jsonschema:"enum=inline,enum=base64,enum=none" jsonschema_description:"Default inline (text)."`
	OutputPath  string `json:"output_path,omitempty" jsonschema_description:"Write the payload to this file."`
	Offset      int64  `json:"offset,omitempty" jsonschema:"minimum=0"`
	Limit       int64  `json:"limit,omitempty" jsonschema:"minimum=0" jsonschema_description:"Max bytes; default the inline limit."`
}

// GetResult is a state read. next_offset is set when bytes remain.
type GetResult struct {
	Namespace             string `json:"namespace"`
	Key                   string `json:"key"`
	Found                 bool   `json:"found"`
	Version               int64  `json:"version"`
	ETag                  string `json:"etag,omitempty"`
	PayloadMode           string `json:"payload_mode"`
	PayloadText           string `json:"payload_text,omitempty"`
	PayloadBase64         string `json:"payload_base64,omitempty"`
	PayloadBytes          int64  `json:"payload_bytes"`
	NextOffset            int64  `json:"next_offset,omitempty"`
	OutputPath            string `json:"output_path,omitempty"`
	BytesWritten          int64  `json:"bytes_written,omitempty"`
	DownloadURL           string `json:"download_url,omitempty"`
	DownloadMethod        string `json:"download_method,omitempty"`
	DownloadExpiresAtUnix int64  `json:"download_expires_at_unix,omitempty"`
}

func (d *Deps) get(ctx context.Context, ns, key, leaseID string, public *bool) (*client.GetResponse, error) {
	opts := []client.GetOption{client.WithGetNamespace(ns)}
	if leaseID != "" {
		opts = append(opts, client.WithGetLeaseID(leaseID))
		d.touchLease(leaseID)
	}
	if public != nil && !*public {
		opts = append(opts, client.WithGetPublicDisabled(true))
	}
	return d.Client.Get(ctx, key, opts...)
}

func stateGet(ctx context.Context, d *Deps, a GetArgs) (GetResult, error) {
	ns := d.ns(a.Namespace)
	mode := a.PayloadMode
	if mode == "" {
		mode = "inline"
	}
	var out *os.File
	if a.OutputPath != "" {
		path, err := d.Roots.WritePath("output_path", a.OutputPath)
		if err != nil {
			return GetResult{}, err
		}
		a.OutputPath = path
	}
	resp, err := d.get(ctx, ns, a.Key, a.LeaseID, a.Public)
	if err != nil {
		if errors.Is(err, client.ErrStateNotFound) {
			return GetResult{Namespace: ns, Key: a.Key, PayloadMode: mode}, nil
		}
		return GetResult{}, err
	}
	defer resp.Close()
	res := GetResult{Namespace: ns, Key: a.Key, Found: resp.HasState, ETag: resp.ETag, PayloadMode: mode}
	res.Version, _ = strconv.ParseInt(resp.Version, 10, 64)
	if !resp.HasState {
		return res, nil
	}
	body := resp.Reader()
	skipped, err := io.CopyN(io.Discard, body, a.Offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return GetResult{}, err
	}
	if a.OutputPath != "" {
		if out, err = os.Create(a.OutputPath); err != nil {
			return GetResult{}, failf("argument output_path: %v", err)
		}
		var src io.Reader = body
		if a.Limit > 0 {
			src = io.LimitReader(body, a.Limit)
		}
		n, err := io.Copy(out, src)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return GetResult{}, failf("writing output_path: %v", err)
		}
		rest, err := io.Copy(io.Discard, body)
		if err != nil {
			return GetResult{}, err
		}
		res.PayloadMode, res.OutputPath, res.BytesWritten = "file", a.OutputPath, n
		res.PayloadBytes = skipped + n + rest
		if rest > 0 {
			res.NextOffset = skipped + n
		}
		return res, nil
	}
	limit := a.Limit
	if limit <= 0 || limit > d.Config.InlineMaxBytes {
		limit = d.Config.InlineMaxBytes
	}
	if mode == "none" {
		limit = 0
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(body, limit))
	if err != nil {
		return GetResult{}, err
	}
	rest, err := io.Copy(io.Discard, body)
	if err != nil {
		return GetResult{}, err
	}
	res.PayloadBytes = skipped + n + rest
	if rest > 0 && mode != "none" {
		res.NextOffset = skipped + n
	}
	switch {
	case mode == "none":
	case mode == "base64" || !utf8.Valid(buf.Bytes()):
		// A ranged read can cut a UTF-8 sequence; base64 keeps it exact.
		res.PayloadMode, res.PayloadBase64 = "base64", base64.StdEncoding.EncodeToString(buf.Bytes())
	default:
		res.PayloadText = buf.String()
	}
	return res, nil
}

// DescribeArgs are the arguments of lockd_describe.
type DescribeArgs struct {
	Key       string `json:"key" jsonschema:"required,minLength=1"`
	Namespace string `json:"namespace,omitempty"`
}

// DescribeResult is a key's metadata and lease record.
type DescribeResult struct {
	Namespace     string `json:"namespace"`
	Key           string `json:"key"`
	Owner         string `json:"owner,omitempty"`
	LeaseID       string `json:"lease_id,omitempty"`
	ExpiresAtUnix int64  `json:"expires_at_unix,omitempty"`
	Version       int64  `json:"version"`
	StateETag     string `json:"state_etag,omitempty"`
	UpdatedAtUnix int64  `json:"updated_at_unix,omitempty"`
	QueryHidden   bool   `json:"query_hidden"`
}

func stateDescribe(ctx context.Context, d *Deps, a DescribeArgs) (DescribeResult, error) {
	desc, err := d.describe(ctx, d.ns(a.Namespace), a.Key)
	if err != nil {
		return DescribeResult{}, err
	}
	res := DescribeResult{
		Namespace: desc.Namespace, Key: desc.Key, Owner: desc.Owner, LeaseID: desc.LeaseID,
		ExpiresAtUnix: desc.ExpiresAt, Version: desc.Version, StateETag: desc.StateETag, UpdatedAtUnix: desc.UpdatedAt,
	}
	if desc.Metadata != nil {
		res.QueryHidden = desc.Metadata.Hidden()
	}
	return res, nil
}

// UpdateArgs are the arguments of lockd_state_update.
type UpdateArgs struct {
	Key       string `json:"key" jsonschema:"required,minLength=1"`
	LeaseID   string `json:"lease_id" jsonschema:"required,minLength=1"`
	Namespace string `json:"namespace,omitempty"`
	Payload
	QueryHidden *bool `json:"query_hidden,omitempty"`
	Guards
}

// UpdateResult is a staged write.
type UpdateResult struct {
	Bytes        int64  `json:"bytes"`
	NewVersion   int64  `json:"new_version"`
	NewStateETag string `json:"new_state_etag"`
	QueryHidden  bool   `json:"query_hidden"`
}

func toUpdateResult(r *client.UpdateResult) UpdateResult {
	return UpdateResult{Bytes: r.BytesWritten, NewVersion: r.NewVersion, NewStateETag: r.NewStateETag, QueryHidden: r.Metadata.Hidden()}
}

func withHidden(opts client.UpdateOptions, hidden *bool) client.UpdateOptions {
	if hidden != nil {
		opts.Metadata.QueryHidden = hidden
	}
	return opts
}

func stateUpdate(ctx context.Context, d *Deps, a UpdateArgs) (UpdateResult, error) {
	body, err := a.Payload.open(ctx, d)
	if err != nil {
		return UpdateResult{}, err
	}
	defer body.Close()
	opts := withHidden(d.updateOptions(d.ns(a.Namespace), a.LeaseID, a.Guards), a.QueryHidden)
	r, err := body.update(ctx, d.Client, a.Key, a.LeaseID, opts)
	if err != nil {
		return UpdateResult{}, err
	}
	return toUpdateResult(r), nil
}

// OneShot are the acquire arguments of the one-shot tools.
type OneShot struct {
	Owner        string `json:"owner,omitempty"`
	TTLSeconds   int64  `json:"ttl_seconds,omitempty" jsonschema:"minimum=1"`
	BlockSeconds *int64 `json:"block_seconds,omitempty" jsonschema:"minimum=-1" jsonschema_description:"Default -1: fail at once if held."`
}

// PutArgs are the arguments of lockd_state_put.
type PutArgs struct {
	Key       string `json:"key" jsonschema:"required,minLength=1"`
	Namespace string `json:"namespace,omitempty"`
	Payload
	QueryHidden *bool `json:"query_hidden,omitempty"`
	IfNotExists bool  `json:"if_not_exists,omitempty"`
	OneShot
	Guards
}

// PutResult is a committed one-shot write.
type PutResult struct {
	Namespace     string `json:"namespace"`
	Key           string `json:"key"`
	Committed     bool   `json:"committed"`
	Bytes         int64  `json:"bytes"`
	NewVersion    int64  `json:"new_version"`
	NewStateETag  string `json:"new_state_etag"`
	QueryHidden   bool   `json:"query_hidden"`
	TxnID         string `json:"txn_id"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

// oneShot acquires ns/key, runs fn under the lease and releases: commit when
// fn succeeds, rollback when it fails, so a failed write stages nothing.
func (d *Deps) oneShot(ctx context.Context, ns, key string, o OneShot, ifNotExists bool, txnID string, fn func(*client.LeaseSession, client.UpdateOptions) error) (*client.LeaseSession, error) {
	ttl := o.TTLSeconds
	if ttl == 0 {
		ttl = defaultTTLSeconds
	}
	block := api.BlockNoWait
	if o.BlockSeconds != nil {
		block = *o.BlockSeconds
	}
	stop := func() {}
	if block != api.BlockNoWait {
		stop = d.startProgress(ctx, float64(block), "waiting for lease on "+ns+"/"+key)
	}
	sess, err := d.Client.Acquire(ctx, api.AcquireRequest{
		Namespace: ns, Key: key, Owner: d.owner(o.Owner), TTLSeconds: ttl, BlockSecs: block,
		IfNotExists: ifNotExists, TxnID: txnID,
	})
	stop()
	if err != nil {
		if errors.Is(err, client.ErrLeaseConflict) {
			return nil, d.heldError(ctx, ns, key, err)
		}
		return nil, err
	}
	g := sess.AcquireResponse
	opts := client.UpdateOptions{Namespace: ns, TxnID: g.TxnID, FencingToken: client.Int64(g.FencingToken)}
	if err := fn(sess, opts); err != nil {
		// Release in a fresh context: the caller's may be what failed.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10e9)
		defer cancel()
		_, _ = d.Client.Release(rctx, api.ReleaseRequest{Namespace: ns, Key: key, LeaseID: g.LeaseID, TxnID: g.TxnID, Rollback: true})
		return nil, oneShotLost(err)
	}
	if _, err := d.Client.Release(ctx, api.ReleaseRequest{Namespace: ns, Key: key, LeaseID: g.LeaseID, TxnID: g.TxnID}); err != nil {
		return nil, oneShotLost(err)
	}
	return sess, nil
}

// oneShotLost explains a one-shot call whose own lease was lost between its
// acquire and its commit (a restarted daemon, an expiry): the generic
// advice for a lost lease (acquire it again) does not fit a call that
// takes its lease itself. Nothing was committed, so the call can simply be
// repeated.
func oneShotLost(err error) error {
	if !errors.Is(err, client.ErrLeaseLost) && !errors.Is(err, client.ErrFencingMismatch) {
		return err
	}
	return &ToolError{Msg: fmt.Sprintf("nothing was committed: the lease this call took for itself was lost before its write committed (the server restarted, or the lease expired or was fenced out); repeat the same call (%v)", err), Err: err}
}

func statePut(ctx context.Context, d *Deps, a PutArgs) (PutResult, error) {
	body, err := a.Payload.open(ctx, d)
	if err != nil {
		return PutResult{}, err
	}
	defer body.Close()
	ns := d.ns(a.Namespace)
	var r *client.UpdateResult
	sess, err := d.oneShot(ctx, ns, a.Key, a.OneShot, a.IfNotExists, a.TxnID, func(s *client.LeaseSession, opts client.UpdateOptions) error {
		opts.IfETag, opts.IfVersion = a.IfETag, a.IfVersion
		if a.FencingToken != nil {
			opts.FencingToken = a.FencingToken
		}
		var err error
		r, err = body.update(ctx, d.Client, a.Key, s.LeaseID, withHidden(opts, a.QueryHidden))
		return err
	})
	if err != nil {
		return PutResult{}, err
	}
	return PutResult{
		Namespace: ns, Key: a.Key, Committed: true, Bytes: r.BytesWritten, NewVersion: r.NewVersion,
		NewStateETag: r.NewStateETag, QueryHidden: r.Metadata.Hidden(), TxnID: sess.TxnID, CorrelationID: sess.CorrelationID,
	}, nil
}

// MutateArgs are the arguments of lockd_state_mutate.
type MutateArgs struct {
	Key         string   `json:"key" jsonschema:"required,minLength=1"`
	LeaseID     string   `json:"lease_id" jsonschema:"required,minLength=1"`
	Namespace   string   `json:"namespace,omitempty"`
	Mutations   []string `json:"mutations" jsonschema:"required,minItems=1" jsonschema_description:"Applied in order."`
	QueryHidden *bool    `json:"query_hidden,omitempty"`
	Guards
}

func stateMutate(ctx context.Context, d *Deps, a MutateArgs) (UpdateResult, error) {
	opts := withHidden(d.updateOptions(d.ns(a.Namespace), a.LeaseID, a.Guards), a.QueryHidden)
	r, err := d.Client.Mutate(ctx, client.MutateRequest{Key: a.Key, LeaseID: a.LeaseID, Mutations: a.Mutations, Options: opts})
	if err != nil {
		return UpdateResult{}, err
	}
	return toUpdateResult(r), nil
}

// PatchArgs are the arguments of lockd_state_patch.
type PatchArgs struct {
	Key         string `json:"key" jsonschema:"required,minLength=1"`
	LeaseID     string `json:"lease_id" jsonschema:"required,minLength=1"`
	Namespace   string `json:"namespace,omitempty"`
	PatchText   string `json:"patch_text,omitempty" jsonschema_description:"Merge patch JSON."`
	PatchBase64 string `json:"patch_base64,omitempty"`
	QueryHidden *bool  `json:"query_hidden,omitempty"`
	Guards
}

func statePatch(ctx context.Context, d *Deps, a PatchArgs) (UpdateResult, error) {
	var patch []byte
	switch {
	case a.PatchText != "" && a.PatchBase64 != "":
		return UpdateResult{}, failf("give only one of patch_text, patch_base64")
	case a.PatchText != "":
		patch = []byte(a.PatchText)
	case a.PatchBase64 != "":
		raw, err := base64.StdEncoding.DecodeString(a.PatchBase64)
		if err != nil {
			return UpdateResult{}, failf("argument patch_base64 is not valid base64: %v", err)
		}
		patch = raw
	default:
		return UpdateResult{}, failf("argument patch_text (or patch_base64) is required")
	}
	var p any
	if err := json.Unmarshal(patch, &p); err != nil {
		return UpdateResult{}, failf("argument patch_text is not valid JSON: %v", err)
	}
	ns := d.ns(a.Namespace)
	// The lease-visible document is read under the same lease, so no other
	// writer can slip in between the read and the write.
	var doc any
	resp, err := d.get(ctx, ns, a.Key, a.LeaseID, nil)
	switch {
	case errors.Is(err, client.ErrStateNotFound):
	case err != nil:
		return UpdateResult{}, err
	default:
		data, err := io.ReadAll(io.LimitReader(resp.Reader(), 64<<20))
		resp.Close()
		if err != nil {
			return UpdateResult{}, err
		}
		if resp.HasState && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, &doc); err != nil {
				return UpdateResult{}, failf("current state of %q is not JSON: %v", a.Key, err)
			}
		}
	}
	merged, err := json.Marshal(MergePatch(doc, p))
	if err != nil {
		return UpdateResult{}, err
	}
	opts := withHidden(d.updateOptions(ns, a.LeaseID, a.Guards), a.QueryHidden)
	r, err := d.Client.UpdateBytes(ctx, a.Key, a.LeaseID, merged, opts)
	if err != nil {
		return UpdateResult{}, err
	}
	return toUpdateResult(r), nil
}

// MergePatch applies an RFC 7396 merge patch to target and returns the
// result. An object patch merges member by member, null deletes, and any
// other patch value replaces the target.
func MergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = MergePatch(t[k], v)
	}
	return t
}

// MetadataArgs are the arguments of lockd_state_metadata.
type MetadataArgs struct {
	Key         string `json:"key" jsonschema:"required,minLength=1"`
	LeaseID     string `json:"lease_id" jsonschema:"required,minLength=1"`
	Namespace   string `json:"namespace,omitempty"`
	QueryHidden *bool  `json:"query_hidden" jsonschema:"required"`
	Guards
}

// MetadataResult is the effective metadata.
type MetadataResult struct {
	Version     int64 `json:"version"`
	QueryHidden bool  `json:"query_hidden"`
}

func stateMetadata(ctx context.Context, d *Deps, a MetadataArgs) (MetadataResult, error) {
	if a.QueryHidden == nil {
		return MetadataResult{}, failf("argument query_hidden is required")
	}
	opts := withHidden(d.updateOptions(d.ns(a.Namespace), a.LeaseID, a.Guards), a.QueryHidden)
	r, err := d.Client.UpdateMetadata(ctx, a.Key, a.LeaseID, opts)
	if err != nil {
		return MetadataResult{}, err
	}
	return MetadataResult{Version: r.Version, QueryHidden: r.Metadata.Hidden()}, nil
}

// RemoveArgs are the arguments of lockd_state_remove.
type RemoveArgs struct {
	Key       string `json:"key" jsonschema:"required,minLength=1"`
	LeaseID   string `json:"lease_id" jsonschema:"required,minLength=1"`
	Namespace string `json:"namespace,omitempty"`
	Guards
}

// RemoveResult says whether state was removed.
type RemoveResult struct {
	Removed    bool  `json:"removed"`
	NewVersion int64 `json:"new_version"`
}

func removeOptions(u client.UpdateOptions) client.RemoveOptions {
	return client.RemoveOptions{IfETag: u.IfETag, IfVersion: u.IfVersion, FencingToken: u.FencingToken, Namespace: u.Namespace, TxnID: u.TxnID}
}

func stateRemove(ctx context.Context, d *Deps, a RemoveArgs) (RemoveResult, error) {
	opts := d.updateOptions(d.ns(a.Namespace), a.LeaseID, a.Guards)
	r, err := d.Client.Remove(ctx, a.Key, a.LeaseID, removeOptions(opts))
	if err != nil {
		return RemoveResult{}, err
	}
	return RemoveResult{Removed: r.Removed, NewVersion: r.NewVersion}, nil
}

// DeleteArgs are the arguments of lockd_state_delete.
type DeleteArgs struct {
	Key       string `json:"key" jsonschema:"required,minLength=1"`
	Namespace string `json:"namespace,omitempty"`
	OneShot
	Guards
}

// DeleteResult is a committed one-shot delete.
type DeleteResult struct {
	Namespace     string `json:"namespace"`
	Key           string `json:"key"`
	Committed     bool   `json:"committed"`
	Removed       bool   `json:"removed"`
	NewVersion    int64  `json:"new_version"`
	TxnID         string `json:"txn_id"`
	CorrelationID string `json:"correlation_id,omitempty"`
}

func stateDelete(ctx context.Context, d *Deps, a DeleteArgs) (DeleteResult, error) {
	ns := d.ns(a.Namespace)
	var r *api.RemoveResponse
	sess, err := d.oneShot(ctx, ns, a.Key, a.OneShot, false, a.TxnID, func(s *client.LeaseSession, opts client.UpdateOptions) error {
		opts.IfETag, opts.IfVersion = a.IfETag, a.IfVersion
		if a.FencingToken != nil {
			opts.FencingToken = a.FencingToken
		}
		var err error
		r, err = d.Client.Remove(ctx, a.Key, s.LeaseID, removeOptions(opts))
		return err
	})
	if err != nil {
		return DeleteResult{}, err
	}
	return DeleteResult{Namespace: ns, Key: a.Key, Committed: true, Removed: r.Removed, NewVersion: r.NewVersion, TxnID: sess.TxnID, CorrelationID: sess.CorrelationID}, nil
}

// describe reads the lease record of ns/key. client.Describe only speaks the
// client's default namespace, so other namespaces go through a client bound
// to them (Deps.NamespaceClient).
func (d *Deps) describe(ctx context.Context, ns, key string) (*api.DescribeResponse, error) {
	cli := d.Client
	if ns != cli.Namespace() {
		if d.NamespaceClient == nil {
			return nil, failf("describe in namespace %q is not available (no namespace client configured); use the default namespace %q", ns, cli.Namespace())
		}
		var err error
		if cli, err = d.NamespaceClient(ns); err != nil {
			return nil, err
		}
	}
	return cli.Describe(ctx, key)
}
