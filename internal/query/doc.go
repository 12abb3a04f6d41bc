// Package query answers LQL selector queries over the committed documents
// of a namespace, with two engines that must always agree with lql.Matches:
//
//   - the scan engine reads every committed document in key order from a
//     Source and runs the Matcher on it;
//   - the index engine keeps an inverted index per namespace (Index) and
//     answers from it, handing the matcher only the documents the index
//     cannot decide.
//
// A Manager owns the indexes, picks the engine per query under the
// namespace rules of WIRE §5.3, pages results in key order with opaque
// cursors, and reports index_seq and the metadata map. It knows nothing
// about HTTP, leases or storage: the engine feeds it committed changes
// (Index.Submit) and implements Source over its own state.
//
// # Index model
//
// Every node of a committed object document is recorded under its
// canonical path (fieldpath.go): member names JSON-Pointer escaped, array
// elements under the pseudo-segment "~2". A selector field built from
// literal names and "[]" resolves to exactly the nodes with that canonical
// path, because LQL paths never step into arrays by themselves; fields with
// wildcards or numeric segments are not translated. Per path the index
// holds postings for "the path resolves", "a non-null value", every scalar
// string form (number text as written, so 42.0 is not 42), every numeric
// form and every temporal instant, plus "a long string", "an odd value"
// (invalid UTF-8, out-of-range numbers, date-like strings the index does
// not parse surely) and "a date-like string". Postings are roaring-style
// compressed bitmaps over interned key ids; a per-key forward list lets an
// update remove its old postings without the old document.
//
// # Exactness
//
// Each selector node evaluates to a pair (yes, maybe): every key in yes
// matches, no key outside yes ∪ maybe does (eval.go gives the algebra for
// and/or/not). eq, in, exists, prefix, contains, icontains and range on
// translated paths are exact, except that long strings, odd values and
// (for eq with a temporal value) date-like strings land in maybe; date,
// untranslated paths and anything unusual make the whole universe maybe.
// Documents that are not objects, or that the index could not read, are
// always in maybe. The maybe keys are verified with the same Matcher the
// scan engine uses, so the index engine can be slower than ideal but never
// wrong. The randomized oracle test checks this over thousands of
// selectors.
//
// # Freshness and wait_for
//
// Submit appends to a queue and returns a sequence number; a background
// worker (alive only while there is work) parses documents outside the
// index lock and applies them in batches, publishing the applied sequence
// (index_seq). A change whose ETag is already indexed only moves the version
// and hidden flag; other updates are applied as a difference of postings.
// The engine submits after a commit is durable and before it
// acknowledges it, so a query with refresh=wait_for waits for the sequence
// submitted before it started and sees every acknowledged commit. Without
// wait_for the index may lag by the queue; index_pending says so.
//
// # Persistence
//
// The index lives in memory only. It is rebuilt at start by submitting every
// committed document (the engine loads its records anyway), which keeps the
// disk format and the crash story of the store unchanged; a rebuild of
// 100,000 1 KiB documents takes a few seconds and queries with wait_for
// simply wait for it.
package query
