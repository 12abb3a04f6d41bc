// Package client is the Go SDK for the lockd v1 HTTP API. It works the same
// against the server embedded in this module (see client/inprocess) and
// against a lockd cluster, because it follows the wire contract, including
// the client behaviours lockd's own CLI has: fencing-token bookkeeping,
// compare-and-set guards, acquire back-off, endpoint failover, Retry-After,
// drain-aware release and correlation ids.
//
// # Model
//
// A key in a namespace holds one JSON document (its state). To change it you
// hold the key's lease: an exclusive, time-limited grant with a lease id, a
// transaction id and a fencing token. Writes made under a lease are staged:
// the holder sees them, nobody else does, until the lease is released. A
// release commits them; a release with rollback discards them. Readers
// without a lease (public reads) only ever see committed state.
//
// # Quick start
//
//	cli, err := client.New("https://lockd.example.com:9341", client.WithBundlePath("~/.lockd/client.pem"))
//	if err != nil { ... }
//	defer cli.Close()
//
//	lease, err := cli.Acquire(ctx, api.AcquireRequest{
//		Namespace: "workflows", Key: "orders", Owner: "worker-1",
//		TTLSeconds: 30, BlockSecs: client.BlockWaitForever,
//	})
//	if err != nil { ... }
//	defer lease.Close()
//
//	checkpoint := map[string]any{}
//	if err := lease.Load(ctx, &checkpoint); err != nil { ... } // untouched when there is no state
//	checkpoint["progress"] = "running"
//	if err := lease.Save(ctx, checkpoint); err != nil { ... }
//	if err := lease.Release(ctx); err != nil { ... }           // commits
//
// AcquireForUpdate packages that flow: it acquires, reads the state, runs
// your function while keeping the lease alive, and releases, committing when
// the function returns nil and rolling back when it returns an error.
//
// Set api.AcquireRequest.IfNotExists for create-only semantics: acquiring an
// existing key then fails with an error matching ErrAlreadyExists (also
// IsAlreadyExists).
//
// An empty namespace always means the client's namespace ("default" unless
// WithDefaultNamespace or UseNamespace say otherwise); the SDK fills it in
// itself. Namespaces starting with "." are reserved.
//
// # Leases and fencing
//
// Acquire returns a LeaseSession. The session sends the lease id, txn id and
// fencing token on every call, and guards each write with the version and
// ETag it last saw (X-If-Version, X-If-State-ETag), so a write based on a
// stale read fails with ErrVersionConflict instead of overwriting. Explicit
// UpdateOptions guards replace the session's own.
//
// The fencing token grows by one with every acquire of a key. Pass
// CurrentFencingToken to anything downstream that must reject a holder that
// lost the lease without knowing it; lockd itself rejects such a holder with
// ErrFencingMismatch or ErrLeaseLost.
//
// Keepalive is automatic in AcquireForUpdate and with the WithAutoKeepAlive
// acquire option: the lease is renewed every max(ttl/2, 1s). Loss is loud:
// Done is closed and Err returns an error matching ErrLeaseLost when the
// server reports the lease gone, when renewals fail until the lease expires,
// or when the granting server announces its shutdown. AcquireForUpdate
// cancels the handler's context at that moment.
//
// Acquire waits for a held lease according to BlockSecs: BlockNoWait tries
// once, BlockWaitForever waits until the context ends, a positive value is a
// deadline. Conflicts, throttling and server errors are retried with
// back-off (1s growing ×1.2 to 5s, ±100ms jitter at the cap, never shorter
// than the server's Retry-After); other failures are retried up to five
// times (WithAcquireFailureRetries).
//
// Client-level methods (Update, Remove, KeepAlive, Release, ...) take a lease
// id instead of a session. The client remembers the fencing token and txn id
// of every lease it acquired; RegisterLeaseToken teaches it a lease acquired
// elsewhere, and UseLeaseID makes one lease the default.
//
// # Staging and release
//
// Update, Mutate, MutateLocal, UpdateMetadata and Remove stage. Release (or
// Close) commits; ReleaseWithOptions{Rollback: true} discards. Release is
// idempotent and treats "no such lease" as success. Leases that joined one
// transaction (AcquireRequest.TxnID) commit or roll back together, and
// TxnCommit/TxnRollback decide a transaction explicitly.
//
// Update buffers the document so it can be retried on another endpoint;
// UpdateStream streams an io.Reader as the request body in a single attempt,
// keeping memory flat for documents of any size. MutateLocal applies LQL
// mutations in this process, streaming the current state through
// lql.MutateStream into an UpdateStream, and is the only way to use
// file:/textfile:/base64file: values.
//
// # Errors
//
// Server errors are *APIError values carrying the status, the error
// envelope (code, detail, current version and ETag), the raw body, the
// Retry-After hint and the X-Lockd-QRF-State of throttled responses. Test
// them with errors.Is against ErrAlreadyExists, ErrLeaseConflict,
// ErrLeaseLost, ErrLeaseExpired, ErrFencingMismatch, ErrVersionConflict,
// ErrStateNotFound, ErrMissingFencingToken and ErrThrottled, or with
// errors.As for the details. Transport failures are returned wrapped, with
// the endpoint that failed.
//
// # Failover
//
// NewWithEndpoints takes several endpoints of one cluster. Each request tries
// them in a fresh random order (WithEndpointShuffle(false) keeps the given
// order); calls on a lease session try the endpoint that granted the lease
// first. A transport error, or a 503 from a passive node, moves on to the
// next endpoint; any other answer is final. Idempotent calls are retried
// after a short back-off when every endpoint failed (WithFailureRetries).
// Releases are repeated to every other endpoint, best effort. Each exchange
// is bounded by 15s, or 3s with several endpoints (WithHTTPTimeout); waiting
// acquires, streams and describe are bounded by the context only.
//
// When a response carries Shutdown-Imminent, the sessions granted by that
// server are released with rollback in the background and reported lost, so
// the server can stop without waiting for their TTLs and nothing half-done is
// committed on the holder's behalf (WithDrainAwareShutdown(false) turns this
// off).
//
// # mTLS
//
// https endpoints use mutual TLS unless WithDisableMTLS(true) is given. The
// client bundle (WithBundlePath, with "~/" and $VAR expansion, or
// WithBundlePEM) is one PEM file holding the client certificate, its private
// key and the CA certificate. The client certificate must carry the
// clientAuth extended key usage. The server is accepted when its certificate
// chains to the bundle CA and carries serverAuth; its host name is not
// checked, since lockd nodes are reached by address, socket or balancer and
// the CA is their identity. http:// and unix:///path endpoints speak plain
// HTTP.
//
// # Correlation ids
//
// WithCorrelationID attaches an id to a context; every request made with it
// sends the id as X-Correlation-Id. Calls on a lease session otherwise reuse
// the id of the acquire, so one lease's traffic can be followed in the
// server's logs. WithCorrelationTransport and WithCorrelationHTTPClient pin
// an id on plain HTTP clients.
package client
