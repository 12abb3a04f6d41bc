package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// refFor is the session's lease reference with per-call overrides applied.
func (s *LeaseSession) refFor(txnID string, token *int64) leaseRef {
	ref := s.ref()
	if txnID != "" {
		ref.txnID = txnID
	}
	if token != nil && *token > 0 && *token != ref.token {
		ref.token, ref.tokenText = *token, ""
	}
	return ref
}

// guards fills the CAS guards a caller left unset with what the session last
// saw (WIRE §8.2): X-If-Version only when > 0, X-If-State-ETag only when set.
func (s *LeaseSession) guards(ifVersion *int64, ifETag string) (*int64, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ifVersion == nil && s.version > 0 {
		v := s.version
		ifVersion = &v
	}
	if ifETag == "" {
		ifETag = s.etag
	}
	return ifVersion, ifETag
}

// Get reads the lease holder's view of the state (including staged
// changes). Close the snapshot when done.
func (s *LeaseSession) Get(ctx context.Context) (*StateSnapshot, error) {
	return s.get(ctx, 0)
}

func (s *LeaseSession) get(ctx context.Context, timeout time.Duration) (*StateSnapshot, error) {
	if err := s.active(); err != nil {
		return nil, err
	}
	ref := s.ref()
	resp, err := s.client.get(ctx, ref.namespace, ref.key, &ref, timeout)
	if err != nil {
		return nil, s.check(err)
	}
	if resp.StatusCode == http.StatusNoContent {
		_ = resp.Body.Close()
		return &StateSnapshot{Version: s.CurrentVersion()}, nil
	}
	snap := &StateSnapshot{
		Reader:   resp.Body,
		ETag:     unquote(resp.Header.Get(api.HeaderETag)),
		HasState: true,
	}
	snap.Version, _ = strconv.ParseInt(resp.Header.Get(api.HeaderKeyVersion), 10, 64)
	s.observe(snap.Version, snap.ETag, snap.ETag != "", headerInt(resp.Header, api.HeaderFencingToken))
	return snap, nil
}

// GetBytes reads the lease holder's view of the state; nil without state.
func (s *LeaseSession) GetBytes(ctx context.Context) ([]byte, error) {
	snap, err := s.Get(ctx)
	if err != nil {
		return nil, err
	}
	return snap.Bytes()
}

// Load decodes the lease holder's view of the state into v; without state
// v is left untouched.
func (s *LeaseSession) Load(ctx context.Context, v any) error {
	snap, err := s.Get(ctx)
	if err != nil {
		return err
	}
	return snap.Decode(v)
}

// Save writes v, encoded as JSON, as the staged state.
func (s *LeaseSession) Save(ctx context.Context, v any, opts ...UpdateOption) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("lockd: encode state: %w", err)
	}
	_, err = s.UpdateBytes(ctx, data, opts...)
	return err
}

// Update stages the JSON document read from body (buffered, so the write
// can be retried); see UpdateStream for unbuffered writes.
func (s *LeaseSession) Update(ctx context.Context, body io.Reader, opts ...UpdateOption) (*UpdateResult, error) {
	return s.UpdateWithOptions(ctx, body, collectUpdateOptions(opts))
}

// UpdateBytes stages body as the JSON document.
func (s *LeaseSession) UpdateBytes(ctx context.Context, body []byte, opts ...UpdateOption) (*UpdateResult, error) {
	return s.write(ctx, body, nil, collectUpdateOptions(opts))
}

// UpdateWithOptions stages the document read from body; guards set in opts
// replace the session's own.
func (s *LeaseSession) UpdateWithOptions(ctx context.Context, body io.Reader, opts UpdateOptions) (*UpdateResult, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("lockd: read update body: %w", err)
	}
	return s.write(ctx, data, nil, opts)
}

// UpdateStream stages the document read from body without buffering it, in
// a single attempt (see Client.UpdateStream).
func (s *LeaseSession) UpdateStream(ctx context.Context, body io.Reader, opts UpdateOptions) (*UpdateResult, error) {
	if body == nil {
		body = bytes.NewReader(nil)
	}
	return s.write(ctx, nil, body, opts)
}

func (s *LeaseSession) write(ctx context.Context, body []byte, stream io.Reader, opts UpdateOptions) (*UpdateResult, error) {
	if err := s.active(); err != nil {
		return nil, err
	}
	opts.IfVersion, opts.IfETag = s.guards(opts.IfVersion, opts.IfETag)
	ref := s.refFor(opts.TxnID, opts.FencingToken)
	if body == nil && stream == nil {
		body = []byte{}
	}
	res, hdr, err := s.client.update(ctx, ref, body, stream, opts)
	if err != nil {
		return nil, s.check(err)
	}
	s.observe(res.NewVersion, res.NewStateETag, true, headerInt(hdr, api.HeaderFencingToken))
	return res, nil
}

// Mutate applies LQL mutations on the server to the staged state.
func (s *LeaseSession) Mutate(ctx context.Context, mutations []string, opts ...UpdateOption) (*UpdateResult, error) {
	return s.MutateWithOptions(ctx, mutations, collectUpdateOptions(opts))
}

// MutateWithOptions is Mutate with explicit guards and overrides.
func (s *LeaseSession) MutateWithOptions(ctx context.Context, mutations []string, opts UpdateOptions) (*UpdateResult, error) {
	if err := s.active(); err != nil {
		return nil, err
	}
	opts.IfVersion, opts.IfETag = s.guards(opts.IfVersion, opts.IfETag)
	res, hdr, err := s.client.mutate(ctx, s.refFor(opts.TxnID, opts.FencingToken), mutations, opts)
	if err != nil {
		return nil, s.check(err)
	}
	s.observe(res.NewVersion, res.NewStateETag, true, headerInt(hdr, api.HeaderFencingToken))
	return res, nil
}

// UpdateMetadata stages a metadata change without touching the state.
func (s *LeaseSession) UpdateMetadata(ctx context.Context, meta MetadataOptions) (*MetadataResult, error) {
	if err := s.active(); err != nil {
		return nil, err
	}
	res, err := s.client.updateMetadata(ctx, s.refFor(meta.TxnID, nil), meta, nil)
	if err != nil {
		return nil, s.check(err)
	}
	s.observe(res.Version, "", false, 0)
	return res, nil
}

// Remove stages the removal of the state, guarded by the session's version
// and ETag.
func (s *LeaseSession) Remove(ctx context.Context) (*api.RemoveResponse, error) {
	return s.RemoveWithOptions(ctx, RemoveOptions{})
}

// RemoveWithOptions is Remove with explicit guards and overrides.
func (s *LeaseSession) RemoveWithOptions(ctx context.Context, opts RemoveOptions) (*api.RemoveResponse, error) {
	if err := s.active(); err != nil {
		return nil, err
	}
	opts.IfVersion, opts.IfETag = s.guards(opts.IfVersion, opts.IfETag)
	res, err := s.client.remove(ctx, s.refFor(opts.TxnID, opts.FencingToken), opts)
	if err != nil {
		return nil, s.check(err)
	}
	if res.Removed {
		s.observe(res.NewVersion, "", true, 0)
	}
	return res, nil
}
