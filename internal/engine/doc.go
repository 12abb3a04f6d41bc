// Package engine holds the semantics of the embedded lockd server: exclusive
// leases with TTLs and fencing tokens, staged JSON state with versions and
// ETags, and single-node transactions. It knows nothing of HTTP; the server
// package maps its requests and *Error values to the wire.
//
// # Model
//
// Every key's metadata lives in memory (a sharded map of entries, one mutex
// per key, so unrelated keys never contend) and is mirrored durably as one
// storage.Record per key: committed version, state ETag and blob, fencing
// token, query_hidden, the current lease and the staged change of the
// lease's transaction. Document bodies are store blobs. Each change is
// committed to the store while the key's mutex is held, so the durable order
// of a key's records equals the order of its responses, and every
// acknowledged change survives a restart exactly as acknowledged.
//
// A lease belongs to a transaction: a private one minted at acquire, or one
// the caller names with txn_id, which other leases may join. Writes (update,
// metadata, remove) are staged under that transaction and become committed
// and public only when it commits: a release commits (or with rollback
// discards) every participant of the transaction in one atomic storage
// batch. An expired lease counts as free; its private staged work is
// discarded and a shared transaction rolls back as a whole. A transaction
// recorded as pending through /v1/txn/decide is prepared: its staged changes
// outlive its leases until it is decided or its expiry rolls it back.
//
// Fencing tokens start at 1 and grow by exactly one per grant. Committed
// versions grow by one per committed transaction that changed the key; while
// staging, the version is committed+1. ETags are the lowercase hex SHA-256 of
// the compacted document, which the engine validates and compacts while it
// streams into the store.
//
// Blocked acquires queue per key in FIFO order and are woken, not polled,
// when the lease is released, expires or is rolled back. A per-key timer
// fires at lease expiry; pending transactions have their own expiry timer.
//
// Reserved record namespaces start with '.', which user namespaces can never
// use: ".txns" holds decision records, ".namespaces" namespace configs.
package engine
