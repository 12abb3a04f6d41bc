package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// UpdateOptions are the guards and headers of a state write.
type UpdateOptions struct {
	// IfETag makes the write conditional on the current state ETag.
	IfETag string
	// IfVersion makes the write conditional on the current version.
	IfVersion *int64
	// ExpectedSHA256 is the hex SHA-256 of the body as sent (before the
	// server compacts it); a mismatch fails the write.
	ExpectedSHA256 string
	// ExpectedBytes is the exact length of the body as sent.
	ExpectedBytes *int64
	// FencingToken overrides the token the lease registry holds.
	FencingToken *int64
	// Namespace scopes the write; empty means the client namespace.
	Namespace string
	// Metadata is applied together with the write.
	Metadata MetadataOptions
	// TxnID overrides the lease's txn id.
	TxnID string
}

// RemoveOptions are the guards of a state removal.
type RemoveOptions struct {
	// IfETag makes the removal conditional on the current state ETag.
	IfETag string
	// IfVersion is sent as X-If-Version (WIRE §4.8: servers may not enforce it).
	IfVersion *int64
	// FencingToken overrides the token the lease registry holds.
	FencingToken *int64
	// Namespace scopes the removal; empty means the client namespace.
	Namespace string
	// TxnID overrides the lease's txn id.
	TxnID string
}

// MetadataOptions are metadata changes; nil fields are left alone.
type MetadataOptions struct {
	// QueryHidden hides the key from /v1/query (true) or shows it (false).
	QueryHidden *bool
	// TxnID binds the change to a transaction.
	TxnID string
}

// UpdateOption adjusts a session write.
type UpdateOption interface{ applyUpdate(*UpdateOptions) }

type updateOptionFunc func(*UpdateOptions)

func (f updateOptionFunc) applyUpdate(o *UpdateOptions) { f(o) }

// WithMetadata applies meta together with the write.
func WithMetadata(meta MetadataOptions) UpdateOption {
	return updateOptionFunc(func(o *UpdateOptions) {
		if meta.QueryHidden != nil {
			o.Metadata.QueryHidden = meta.QueryHidden
		}
		if meta.TxnID != "" {
			o.Metadata.TxnID = meta.TxnID
		}
	})
}

// WithQueryHidden hides the key from queries once the write commits.
func WithQueryHidden() UpdateOption {
	return updateOptionFunc(func(o *UpdateOptions) { o.Metadata.QueryHidden = Bool(true) })
}

// WithQueryVisible makes the key visible to queries once the write commits.
func WithQueryVisible() UpdateOption {
	return updateOptionFunc(func(o *UpdateOptions) { o.Metadata.QueryHidden = Bool(false) })
}

// WithTxnID binds the write (and its metadata change) to txnID.
func WithTxnID(txnID string) UpdateOption {
	return updateOptionFunc(func(o *UpdateOptions) { o.TxnID, o.Metadata.TxnID = txnID, txnID })
}

func collectUpdateOptions(opts []UpdateOption) UpdateOptions {
	if len(opts) == 0 {
		return UpdateOptions{}
	}
	o := new(UpdateOptions)
	for _, opt := range opts {
		if opt != nil {
			opt.applyUpdate(o)
		}
	}
	return *o
}

// UpdateResult is the outcome of a state write.
type UpdateResult struct {
	// NewVersion is the version the write staged (committed version + 1).
	NewVersion int64 `json:"new_version"`
	// NewStateETag is the ETag of the staged document.
	NewStateETag string `json:"new_state_etag"`
	// BytesWritten is the stored (compacted) size.
	BytesWritten int64 `json:"bytes"`
	// Metadata is the metadata after the write.
	Metadata api.MetadataAttributes `json:"metadata,omitempty"`
}

// MetadataResult is the outcome of a metadata change.
type MetadataResult struct {
	// Version is the staged version after the change.
	Version int64
	// Metadata is the metadata after the change.
	Metadata api.MetadataAttributes
}

// StateSnapshot is a state document as read under a lease. Close it (or
// read it with Bytes/Decode, which close it) to free the connection.
type StateSnapshot struct {
	// Reader streams the document; nil when HasState is false.
	Reader io.ReadCloser
	// ETag is the state ETag of what was read.
	ETag string
	// Version is the version of what was read.
	Version int64
	// HasState is false when the key has no state (or a staged removal).
	HasState bool
}

// Bytes reads the whole document and closes the reader; nil without state.
func (s *StateSnapshot) Bytes() ([]byte, error) {
	if s == nil || s.Reader == nil {
		return nil, nil
	}
	defer s.Reader.Close()
	return io.ReadAll(s.Reader)
}

// Decode unmarshals the document into v and closes the reader. Without
// state v is left untouched.
func (s *StateSnapshot) Decode(v any) error {
	if s == nil || s.Reader == nil || !s.HasState {
		return nil
	}
	defer s.Reader.Close()
	if err := json.NewDecoder(s.Reader).Decode(v); err != nil {
		return fmt.Errorf("lockd: decode state: %w", err)
	}
	return nil
}

// Close releases the reader.
func (s *StateSnapshot) Close() error {
	if s == nil || s.Reader == nil {
		return nil
	}
	return s.Reader.Close()
}

// GetOptions select what Client.Get reads.
type GetOptions struct {
	// Namespace scopes the read; empty means the client namespace.
	Namespace string
	// LeaseID makes the read lease-bound (the holder's staged view).
	LeaseID string
	// DisablePublic refuses the public (committed, lease-free) read; the
	// sticky lease (UseLeaseID) is used when LeaseID is empty.
	DisablePublic bool
}

// GetOption adjusts Client.Get.
type GetOption func(*GetOptions)

// WithGetLeaseID reads under leaseID instead of publicly.
func WithGetLeaseID(id string) GetOption { return func(o *GetOptions) { o.LeaseID = id } }

// WithGetNamespace reads from ns instead of the client namespace.
func WithGetNamespace(ns string) GetOption { return func(o *GetOptions) { o.Namespace = ns } }

// WithGetPublicDisabled refuses public reads when disable is true.
func WithGetPublicDisabled(disable bool) GetOption {
	return func(o *GetOptions) { o.DisablePublic = disable }
}

// LoadOptions select what Client.Load reads; see GetOptions.
type LoadOptions struct {
	GetOptions
}

// LoadOption adjusts Client.Load.
type LoadOption func(*LoadOptions)

// WithLoadLeaseID reads under leaseID instead of publicly.
func WithLoadLeaseID(id string) LoadOption { return func(o *LoadOptions) { o.LeaseID = id } }

// WithLoadNamespace reads from ns instead of the client namespace.
func WithLoadNamespace(ns string) LoadOption { return func(o *LoadOptions) { o.Namespace = ns } }

// WithLoadPublicDisabled refuses public reads when disable is true.
func WithLoadPublicDisabled(disable bool) LoadOption {
	return func(o *LoadOptions) { o.DisablePublic = disable }
}

// GetResponse is a streamed state read. Close it when done.
type GetResponse struct {
	// Namespace and Key identify the document.
	Namespace string
	Key       string
	// ETag is the state ETag; empty without state.
	ETag string
	// Version is the X-Key-Version header as sent; empty without state.
	Version string
	// HasState is false when the key has no (published) state.
	HasState bool

	reader io.ReadCloser
}

// Reader returns the body stream; it is empty without state.
func (gr *GetResponse) Reader() io.ReadCloser {
	if gr.reader == nil {
		return io.NopCloser(bytes.NewReader(nil))
	}
	return gr.reader
}

// Bytes reads the whole body and closes it; nil without state.
func (gr *GetResponse) Bytes() ([]byte, error) {
	if gr.reader == nil {
		return nil, nil
	}
	defer gr.reader.Close()
	return io.ReadAll(gr.reader)
}

// Close releases the body.
func (gr *GetResponse) Close() error {
	if gr.reader == nil {
		return nil
	}
	return gr.reader.Close()
}

// Document decodes the body into a Document and closes it. Without state
// the document body is empty.
func (gr *GetResponse) Document() (*Document, error) {
	doc := NewDocument(gr.Namespace, gr.Key)
	doc.Version, doc.ETag = gr.Version, gr.ETag
	if gr.reader == nil {
		return doc, nil
	}
	defer gr.reader.Close()
	if err := doc.LoadFrom(gr.reader); err != nil {
		return nil, err
	}
	return doc, nil
}

// MutateRequest is a server-side LQL mutation of one key.
type MutateRequest struct {
	// Key is the state to mutate.
	Key string
	// LeaseID is the lease held on Key; empty means the sticky lease.
	LeaseID string
	// Mutations are LQL mutation expressions, applied in order.
	Mutations []string
	// Options carries namespace, CAS guards, fencing and txn overrides.
	Options UpdateOptions
}

// Get reads key. Without a lease id the read is public: it returns the
// committed, published document and never the holder's staged changes.
func (c *Client) Get(ctx context.Context, key string, optFns ...GetOption) (*GetResponse, error) {
	var o GetOptions
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	ns := c.namespaceOr(o.Namespace)
	var ref *leaseRef
	if o.LeaseID != "" || o.DisablePublic {
		r, err := c.resolveLease(ns, key, o.LeaseID, "", nil)
		if err != nil {
			return nil, fmt.Errorf("get %s/%s: %w", ns, key, err)
		}
		ref = &r
	}
	resp, err := c.get(ctx, ns, key, ref, 0)
	if err != nil {
		return nil, err
	}
	out := &GetResponse{Namespace: ns, Key: key}
	if resp.StatusCode == http.StatusNoContent {
		_ = resp.Body.Close()
		return out, nil
	}
	out.HasState, out.reader = true, resp.Body
	out.ETag = unquote(resp.Header.Get(api.HeaderETag))
	out.Version = resp.Header.Get(api.HeaderKeyVersion)
	return out, nil
}

// Load decodes the state of key into v; without state v is left untouched.
func (c *Client) Load(ctx context.Context, key string, v any, optFns ...LoadOption) error {
	var o LoadOptions
	for _, fn := range optFns {
		if fn != nil {
			fn(&o)
		}
	}
	gr, err := c.Get(ctx, key, WithGetNamespace(o.Namespace), WithGetLeaseID(o.LeaseID), WithGetPublicDisabled(o.DisablePublic))
	if err != nil {
		return err
	}
	defer gr.Close()
	if !gr.HasState {
		return nil
	}
	if err := json.NewDecoder(gr.reader).Decode(v); err != nil {
		return fmt.Errorf("lockd: decode state of %s/%s: %w", gr.Namespace, key, err)
	}
	return nil
}

// get sends /v1/get; ref nil means a public read. A 200 or 204 response is
// returned with its body open; anything else becomes an error.
func (c *Client) get(ctx context.Context, ns, key string, ref *leaseRef, timeout time.Duration) (*http.Response, error) {
	cl := call{method: http.MethodPost, path: "/v1/get", ns: ns, key: key, keyed: true, header: make(http.Header, 4), retry: true, timeout: timeout}
	if ref == nil {
		cl.query = "public=1"
	} else {
		cl.setHeader(api.HeaderLeaseID, ref.leaseID)
		cl.setHeader(api.HeaderFencingToken, ref.tokenHeader())
		cl.preferred, cl.corr = ref.preferred, ref.corr
	}
	resp, _, err := c.do(ctx, &cl)
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", ns, key, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		defer cl.done()
		return nil, fmt.Errorf("get %s/%s: %w", ns, key, newAPIError(resp))
	}
	resp.Body = cl.streamBody(resp)
	if ref != nil {
		c.refreshToken(ref.leaseID, headerInt(resp.Header, api.HeaderFencingToken))
	}
	return resp, nil
}

// Update writes the JSON document read from body under leaseID. The body is
// buffered so the write can be retried on another endpoint; use
// UpdateStream for documents too large to hold in memory.
func (c *Client) Update(ctx context.Context, key, leaseID string, body io.Reader, opts UpdateOptions) (*UpdateResult, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("lockd: read update body: %w", err)
	}
	return c.UpdateBytes(ctx, key, leaseID, data, opts)
}

// UpdateBytes writes body as the JSON document of key under leaseID.
func (c *Client) UpdateBytes(ctx context.Context, key, leaseID string, body []byte, opts UpdateOptions) (*UpdateResult, error) {
	ref, err := c.resolveLease(opts.Namespace, key, leaseID, opts.TxnID, opts.FencingToken)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", key, err)
	}
	res, _, err := c.update(ctx, ref, body, nil, opts)
	return res, err
}

// UpdateStream writes the JSON document read from body without buffering
// it: the reader becomes the request body. It makes a single attempt at a
// single endpoint; to retry, the caller must start a new stream from its
// own source of truth.
func (c *Client) UpdateStream(ctx context.Context, key, leaseID string, body io.Reader, opts UpdateOptions) (*UpdateResult, error) {
	ref, err := c.resolveLease(opts.Namespace, key, leaseID, opts.TxnID, opts.FencingToken)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", key, err)
	}
	if body == nil {
		body = bytes.NewReader(nil)
	}
	res, _, err := c.update(ctx, ref, nil, body, opts)
	return res, err
}

func (c *Client) update(ctx context.Context, ref leaseRef, body []byte, stream io.Reader, opts UpdateOptions) (*UpdateResult, http.Header, error) {
	cl := call{
		method: http.MethodPost, path: "/v1/update", ns: ref.namespace, key: ref.key, keyed: true,
		header: make(http.Header, 8), body: body, stream: stream,
		preferred: ref.preferred, corr: ref.corr, retry: stream == nil,
	}
	if body == nil && stream == nil {
		cl.body = []byte{}
	}
	if stream != nil {
		cl.timeout = noTimeout
	}
	cl.setHeader("Content-Type", "application/json")
	ref.headers(&cl)
	casHeaders(&cl, opts.IfVersion, opts.IfETag)
	if opts.ExpectedSHA256 != "" {
		cl.setHeader(api.HeaderExpectedSHA256, opts.ExpectedSHA256)
	}
	if opts.ExpectedBytes != nil {
		cl.setHeader(api.HeaderExpectedBytes, formatInt(*opts.ExpectedBytes))
	}
	if opts.Metadata.QueryHidden != nil {
		cl.setHeader(api.HeaderMetaQueryHidden, strconv.FormatBool(*opts.Metadata.QueryHidden))
	}
	var out UpdateResult
	hdr, _, err := c.doJSON(ctx, &cl, &out)
	if err != nil {
		return nil, hdr, fmt.Errorf("update %s/%s: %w", ref.namespace, ref.key, err)
	}
	out.NewStateETag = unquote(out.NewStateETag)
	c.refreshToken(ref.leaseID, headerInt(hdr, api.HeaderFencingToken))
	if err := c.applyWriteMetadata(ctx, ref, opts.Metadata, &out); err != nil {
		return &out, hdr, err
	}
	return &out, hdr, nil
}

// applyWriteMetadata makes a metadata change requested with a write take
// effect. Servers validate X-Lockd-Meta-Query-Hidden on update and mutate
// but may not apply it (WIRE §4.5); when the response shows the old value,
// the change is sent to /v1/metadata under the same lease and txn.
func (c *Client) applyWriteMetadata(ctx context.Context, ref leaseRef, meta MetadataOptions, out *UpdateResult) error {
	if meta.QueryHidden == nil || out.Metadata.Hidden() == *meta.QueryHidden {
		return nil
	}
	if meta.TxnID != "" {
		ref.txnID = meta.TxnID
	}
	res, err := c.updateMetadata(ctx, ref, meta, nil)
	if err != nil {
		return err
	}
	out.Metadata = res.Metadata
	return nil
}

// casHeaders sets the compare-and-set guards (WIRE §8.2).
func casHeaders(cl *call, ifVersion *int64, ifETag string) {
	if ifVersion != nil {
		cl.setHeader(api.HeaderIfVersion, formatInt(*ifVersion))
	}
	if ifETag != "" {
		cl.setHeader(api.HeaderIfStateETag, ifETag)
	}
}

// Mutate applies LQL mutations to the state of req.Key on the server.
func (c *Client) Mutate(ctx context.Context, req MutateRequest) (*UpdateResult, error) {
	ref, err := c.resolveLease(req.Options.Namespace, req.Key, req.LeaseID, req.Options.TxnID, req.Options.FencingToken)
	if err != nil {
		return nil, fmt.Errorf("mutate %s: %w", req.Key, err)
	}
	res, _, err := c.mutate(ctx, ref, req.Mutations, req.Options)
	return res, err
}

func (c *Client) mutate(ctx context.Context, ref leaseRef, mutations []string, opts UpdateOptions) (*UpdateResult, http.Header, error) {
	cl, err := jsonCall("/v1/mutate", api.MutateRequest{Namespace: ref.namespace, Mutations: mutations})
	if err != nil {
		return nil, nil, err
	}
	cl.ns, cl.key, cl.keyed = ref.namespace, ref.key, true
	cl.preferred, cl.corr, cl.retry = ref.preferred, ref.corr, true
	ref.headers(&cl)
	casHeaders(&cl, opts.IfVersion, opts.IfETag)
	if opts.Metadata.QueryHidden != nil {
		cl.setHeader(api.HeaderMetaQueryHidden, strconv.FormatBool(*opts.Metadata.QueryHidden))
	}
	var out UpdateResult
	hdr, _, err := c.doJSON(ctx, &cl, &out)
	if err != nil {
		return nil, hdr, fmt.Errorf("mutate %s/%s: %w", ref.namespace, ref.key, err)
	}
	out.NewStateETag = unquote(out.NewStateETag)
	c.refreshToken(ref.leaseID, headerInt(hdr, api.HeaderFencingToken))
	if err := c.applyWriteMetadata(ctx, ref, opts.Metadata, &out); err != nil {
		return &out, hdr, err
	}
	return &out, hdr, nil
}

// UpdateMetadata changes the metadata of key (opts.Metadata) without
// touching its state. opts.IfVersion guards the change.
func (c *Client) UpdateMetadata(ctx context.Context, key, leaseID string, opts UpdateOptions) (*MetadataResult, error) {
	txn := opts.TxnID
	if txn == "" {
		txn = opts.Metadata.TxnID
	}
	ref, err := c.resolveLease(opts.Namespace, key, leaseID, txn, opts.FencingToken)
	if err != nil {
		return nil, fmt.Errorf("metadata %s: %w", key, err)
	}
	return c.updateMetadata(ctx, ref, opts.Metadata, opts.IfVersion)
}

func (c *Client) updateMetadata(ctx context.Context, ref leaseRef, meta MetadataOptions, ifVersion *int64) (*MetadataResult, error) {
	if meta.QueryHidden == nil {
		return nil, errors.New("lockd: metadata update needs a value (QueryHidden)")
	}
	cl, err := jsonCall("/v1/metadata", api.MetadataUpdateRequest{QueryHidden: meta.QueryHidden})
	if err != nil {
		return nil, err
	}
	cl.ns, cl.key, cl.keyed = ref.namespace, ref.key, true
	cl.preferred, cl.corr, cl.retry = ref.preferred, ref.corr, true
	ref.headers(&cl)
	casHeaders(&cl, ifVersion, "")
	var out api.MetadataUpdateResponse
	hdr, _, err := c.doJSON(ctx, &cl, &out)
	if err != nil {
		return nil, fmt.Errorf("metadata %s/%s: %w", ref.namespace, ref.key, err)
	}
	c.refreshToken(ref.leaseID, headerInt(hdr, api.HeaderFencingToken))
	return &MetadataResult{Version: out.Version, Metadata: out.Metadata}, nil
}

// Remove stages the removal of key's state under leaseID.
func (c *Client) Remove(ctx context.Context, key, leaseID string, opts RemoveOptions) (*api.RemoveResponse, error) {
	ref, err := c.resolveLease(opts.Namespace, key, leaseID, opts.TxnID, opts.FencingToken)
	if err != nil {
		return nil, fmt.Errorf("remove %s: %w", key, err)
	}
	return c.remove(ctx, ref, opts)
}

func (c *Client) remove(ctx context.Context, ref leaseRef, opts RemoveOptions) (*api.RemoveResponse, error) {
	cl := call{
		method: http.MethodPost, path: "/v1/remove", ns: ref.namespace, key: ref.key, keyed: true,
		header: make(http.Header, 6), preferred: ref.preferred, corr: ref.corr, retry: true,
	}
	ref.headers(&cl)
	casHeaders(&cl, opts.IfVersion, opts.IfETag)
	var out api.RemoveResponse
	hdr, _, err := c.doJSON(ctx, &cl, &out)
	if err != nil {
		return nil, fmt.Errorf("remove %s/%s: %w", ref.namespace, ref.key, err)
	}
	c.refreshToken(ref.leaseID, headerInt(hdr, api.HeaderFencingToken))
	return &out, nil
}

// Describe returns the committed version, ETag, metadata and current lease
// of key (no lease needed).
func (c *Client) Describe(ctx context.Context, key string) (*api.DescribeResponse, error) {
	ns := c.namespaceOr("")
	cl := call{method: http.MethodGet, path: "/v1/describe", ns: ns, key: key, keyed: true, timeout: noTimeout, retry: true}
	var out api.DescribeResponse
	if _, _, err := c.doJSON(ctx, &cl, &out); err != nil {
		return nil, fmt.Errorf("describe %s/%s: %w", ns, key, err)
	}
	return &out, nil
}

// Save writes v as the JSON state of sess; see LeaseSession.Save.
func (c *Client) Save(ctx context.Context, sess *LeaseSession, v any) error {
	if sess == nil {
		return errors.New("lockd: save needs a lease session")
	}
	return sess.Save(ctx, v)
}

func headerInt(h http.Header, name string) int64 {
	if h == nil {
		return 0
	}
	// Most responses carry no such header; parsing "" would allocate a
	// *NumError only to be thrown away.
	s := strings.TrimSpace(h.Get(name))
	if s == "" {
		return 0
	}
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}

// unquote strips the quotes an ETag header may carry (WIRE §1.5).
func unquote(etag string) string {
	etag = strings.TrimSpace(etag)
	etag = strings.TrimPrefix(etag, "W/")
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}
