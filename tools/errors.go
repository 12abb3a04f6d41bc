package tools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

// argForCode names the argument an invalid_* / missing_* server error is
// about, so the agent knows which field to fix.
func argForCode(code string) string {
	switch code {
	case api.ErrCodeInvalidKey, api.ErrCodeMissingKey:
		return "key"
	case api.ErrCodeInvalidNamespace:
		return "namespace"
	case api.ErrCodeInvalidTTL:
		return "ttl_seconds"
	case api.ErrCodeMissingOwner:
		return "owner"
	case api.ErrCodeMissingLease:
		return "lease_id"
	case api.ErrCodeInvalidTxnID, api.ErrCodeMissingTxnID, api.ErrCodeInvalidTxn:
		return "txn_id"
	case api.ErrCodeInvalidFencingToken, api.ErrCodeMissingFencingToken:
		return "fencing_token"
	case api.ErrCodeInvalidVersion:
		return "if_version"
	case api.ErrCodeInvalidMutations:
		return "mutations"
	case api.ErrCodeInvalidSelector:
		return "query"
	case api.ErrCodeInvalidFields, api.ErrCodeMissingFields:
		return "fields"
	case api.ErrCodeInvalidEngine, api.ErrCodeQueryEngineUnavailable:
		return "engine"
	case api.ErrCodeInvalidRefresh:
		return "refresh"
	case api.ErrCodeInvalidCursor:
		return "cursor"
	case api.ErrCodeInvalidLimit:
		return "limit"
	case api.ErrCodeInvalidMode:
		return "mode"
	case api.ErrCodeInvalidExpectedSHA256, api.ErrCodeExpectedSHA256Mismatch:
		return "expected_sha256"
	case api.ErrCodeInvalidExpectedBytes, api.ErrCodeExpectedBytesMismatch:
		return "expected_bytes"
	case api.ErrCodeInvalidBody, api.ErrCodeMissingBody, api.ErrCodeInvalidState, api.ErrCodeDocumentTooLarge:
		return "payload"
	case api.ErrCodeInvalidNamespaceReq:
		return "preferred_engine"
	}
	return ""
}

// explain turns any handler error into the isError text: what went wrong,
// the server-side facts, and the next tool to call.
func (d *Deps) explain(_ context.Context, tool string, err error) string {
	var te *ToolError
	if errors.As(err, &te) {
		return tool + ": " + te.Msg
	}
	if msg, ok := d.lostLeaseError(tool, err); ok {
		return msg
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Sprintf("%s: the call was cancelled or timed out (%v); retry it", tool, err)
	}
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return fmt.Sprintf("%s: %v; check the server with lockd_hint and retry", tool, err)
	}
	code := ae.Response.ErrorCode
	if code == "" {
		// No lockd error envelope: a proxy or a server in trouble answered.
		return fmt.Sprintf("%s: the server answered HTTP %d %s without a lockd error body (a proxy or load balancer in front of it, or a server fault); check the server with lockd_hint and retry",
			tool, ae.Status, http.StatusText(ae.Status))
	}
	detail := ae.Response.Detail
	if detail == "" {
		detail = code
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", tool, code)
	if detail != code {
		fmt.Fprintf(&b, " (%s)", detail)
	}
	switch {
	case errors.Is(err, client.ErrVersionConflict):
		fmt.Fprintf(&b, "; current version is %d", ae.Response.CurrentVersion)
		if ae.Response.CurrentETag != "" {
			fmt.Fprintf(&b, ", current etag %s", ae.Response.CurrentETag)
		}
		fmt.Fprintf(&b, "; re-read with lockd_get, then retry with if_version=%d", ae.Response.CurrentVersion)
	case errors.Is(err, client.ErrLeaseConflict):
		b.WriteString("; the key is held by another owner: call lockd_describe for the holder, or retry lockd_lock_acquire with block_seconds")
	case errors.Is(err, client.ErrFencingMismatch):
		b.WriteString("; a newer lease holds the key: this lease is stale, call lockd_lock_acquire again")
	case errors.Is(err, client.ErrLeaseLost):
		b.WriteString("; the lease is gone (expired or released): call lockd_lock_acquire again")
	case errors.Is(err, client.ErrAlreadyExists):
		b.WriteString("; the key already has state and if_not_exists was set: read it with lockd_get or drop if_not_exists")
	case errors.Is(err, client.ErrStateNotFound):
		b.WriteString("; the key has no state: write it first with lockd_state_put")
	case errors.Is(err, client.ErrMissingFencingToken):
		b.WriteString("; pass fencing_token from lockd_lock_acquire (argument fencing_token)")
	case errors.Is(err, client.ErrThrottled):
		fmt.Fprintf(&b, "; the server is shedding load: retry after %s", ae.RetryAfter)
	case code == api.ErrCodeTxnMismatch || code == api.ErrCodeMissingTxn:
		b.WriteString("; argument txn_id must be the txn_id from lockd_lock_acquire (see lockd_lock_status)")
	default:
		if arg := argForCode(code); arg != "" {
			fmt.Fprintf(&b, "; fix argument %s", arg)
		} else {
			b.WriteString("; see lockd_help topic=errors")
		}
	}
	if ae.RetryAfter > 0 && !errors.Is(err, client.ErrThrottled) {
		fmt.Fprintf(&b, " (server retry hint: %s)", ae.RetryAfter)
	}
	return b.String()
}

// lostLeaseError explains a lease error on a lease this session already
// knows is lost. The SDK forgets a lost lease, so the server or the SDK
// then only says a fencing token is missing, which sends an agent looking
// for a token instead of re-acquiring the key.
func (d *Deps) lostLeaseError(tool string, err error) (string, bool) {
	if d.leaseID == "" || d.Leases == nil {
		return "", false
	}
	if !errors.Is(err, client.ErrMissingFencingToken) && !errors.Is(err, client.ErrLeaseLost) && !errors.Is(err, client.ErrFencingMismatch) {
		return "", false
	}
	held, ok := d.Leases.Get(d.leaseID)
	if !ok || !held.Lost {
		return "", false
	}
	return fmt.Sprintf("%s: lease %s on %s/%s was lost earlier (%s), so nothing was done; acquire the key again with lockd_lock_acquire, redo the writes, and release this lease id to stop it being listed", tool, held.LeaseID, held.Namespace, held.Key, held.RenewalError), true
}
