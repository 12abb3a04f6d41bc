// Package server is the embedded lockd-compatible HTTP server: Config,
// Start and Handle.Stop, and the handlers of the lockd v1 lease, state,
// transaction and namespace endpoints (../shared/lockd-api/WIRE.md).
//
// Handlers only translate the wire: they parse bodies (strictly where the
// contract says so), headers and query strings, call internal/engine, and
// write the response or the api.ErrorResponse envelope with the status the
// contract assigns to each error code. All semantics (leases, fencing,
// staging, transactions) live in the engine.
//
// Stop drains: every response then carries Shutdown-Imminent: true, new
// acquires get 503 shutdown_draining with Retry-After set to the seconds
// left in the drain, and lease holders may still keep alive, write and
// release until no lease is held or the drain times out.
//
// Durability: a response to a release, a txn decision or a namespace change
// is sent only once the change is durable. Acquire, keepalive and staged
// writes are acknowledged once they are in the store's ordered log, before
// its fsync; a crash ends every lease (holders get lease_required on their
// next call, staged work is rolled back) and fencing tokens skip past any
// grant the crash may have lost. internal/engine/doc.go argues why. A clean
// Stop loses nothing and keeps leases across the restart.
//
// Choices where the contract leaves room, or where this server is stricter
// than the reference (all safe for the lockd SDK):
//   - /v1/get 200 responses carry Content-Type: application/json (the
//     reference sends none, so Go sniffs text/plain).
//   - An invalid X-Lockd-Meta-Query-Hidden on update gives 400
//     invalid_metadata instead of 500.
//   - Releasing a joined lease without rollback commits the whole
//     transaction even when that lease staged nothing (the reference is read
//     to roll back, WIRE §3.5/§10); rollback:true rolls it back.
//   - ETags are the hex SHA-256 of the compacted document on every store.
//   - Namespace POST with an unknown engine value gives 400
//     invalid_namespace_request (the reference answers 500).
//   - A release whose lease id and fencing token match but whose txn_id
//     differs is 409 txn_mismatch; every other stale release is 200.
//
// Codes of the contract this server never emits on these endpoints, and
// why: state_not_published (a commit publishes atomically, so
// published_version always equals version); invalid_ttl (ttl <= 0 means
// the default and larger values are clamped, so no TTL is invalid);
// throttled, node_passive, tc_* (no QRF, HA or TC cluster);
// staged_state_missing only if a staged blob vanished from the store.
// context_canceled (408) is not produced either: a cancelled /v1/mutate,
// which streams the document through lql.MutateStream, gets 409 waiting
// like every handler.
package server
