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
// lease's transaction. Document bodies are store blobs. Each change reaches
// the store's ordered log while the key's mutex is held, so the log order of
// a key's records equals the order of its responses.
//
// # Durability
//
// Decisions are durable before they are acknowledged: releases (commit or
// rollback), txn decisions (commit, rollback, pending), expiry clean-ups,
// namespace configs, the first grant of a key and the takeover of an
// expired lease. The steps leading to a decision (a grant on a free key
// that was granted before, keepalive, staged update/metadata/remove) are
// appended to the log without waiting for its fsync (storage.Store.Append):
// the next durable commit covers them, because the log is ordered. On the
// disk store this leaves one fsync wait per lease cycle instead of three.
// The exception is a change staged under a txn already recorded as
// pending: recovery keeps that txn's staged records, so losing the change
// would quietly revive the one before it, and it is durable before it is
// acknowledged (stageKey).
//
// What a crash can lose is therefore only such steps, and the engine makes
// the loss loud: a run marker record is durable while the engine runs and
// removed by Close, so a start that finds it knows the previous run crashed.
// Then a crash counts as the expiry of every lease: every lease ends, every
// change staged under a txn without a durable decision record rolls back
// (a pending txn's record is durable and covers what was staged before it),
// and every key's fencing token moves one past its durable value. Holders
// learn on their next call (lease_required), never by a silent success.
// At most one grant per key can be acknowledged and not durable: after a
// grant, the next grant on the key needs either a release or rollback
// (durable) or an expiry, whose clean-up or takeover is durable too, and a
// key's first grant is durable. So the lost grant, if any, had token
// durable+1, and resuming at durable+2 never reissues it. The rewrite is
// committed before the engine serves, so a second crash cannot undo it.
// Every acknowledged release survives exactly as acknowledged; a clean
// restart keeps leases, staged work and tokens as they were.
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
// Fencing tokens start at 1 and grow by one per grant (and by one more
// across a crash, see above). Committed
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
