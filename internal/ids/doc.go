// Package ids mints the identifiers of the lockd wire: xids for lease and
// transaction ids, UUIDv7 for message ids, generated keys and correlation ids.
// Both are time-ordered, so ids minted later sort later.
package ids
