package server

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/engine"
	"github.com/lockd-mcp/lockd-mcp/lql"
)

// stateTarget resolves namespace and key from the query string; bodyNS is
// the namespace to use when the query names none.
func (s *server) stateTarget(r *http.Request, bodyNS string) (string, string, error) {
	rawNS := queryValue(r.URL.RawQuery, "namespace")
	if strings.TrimSpace(rawNS) == "" {
		rawNS = bodyNS
	}
	ns, err := s.namespace(rawNS)
	if err != nil {
		return "", "", err
	}
	key, err := engine.NormalizeKey(queryValue(r.URL.RawQuery, "key"))
	if err != nil {
		return "", "", err
	}
	return ns, key, nil
}

// writeRef parses the lease headers every staged write needs: X-Lease-ID,
// X-Txn-ID and X-Fencing-Token, plus the target key.
func (s *server) writeRef(r *http.Request, bodyNS string) (engine.LeaseRef, error) {
	ns, key, err := s.stateTarget(r, bodyNS)
	if err != nil {
		return engine.LeaseRef{}, err
	}
	ref := engine.LeaseRef{Namespace: ns, Key: key}
	if ref.LeaseID = strings.TrimSpace(r.Header.Get(api.HeaderLeaseID)); ref.LeaseID == "" {
		return ref, errMissing(api.ErrCodeMissingLease, "X-Lease-ID header required")
	}
	if ref.TxnID = strings.TrimSpace(r.Header.Get(api.HeaderTxnID)); ref.TxnID == "" {
		return ref, errMissing(api.ErrCodeMissingTxn, "X-Txn-ID required")
	}
	if ref.FencingToken, err = fencingToken(r); err != nil {
		return ref, err
	}
	return ref, nil
}

func (s *server) handleGet(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.RawQuery
	if strings.TrimSpace(queryValue(raw, "key")) == "" {
		s.fail(w, r, api.ErrCodeMissingParams, "key query parameter required")
		return
	}
	ns, key, err := s.stateTarget(r, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var lease *engine.LeaseRef
	if leaseID := strings.TrimSpace(r.Header.Get(api.HeaderLeaseID)); leaseID != "" || !truthy(queryValue(raw, "public")) {
		// A lease read; the reference server checks the token first, so a
		// request with neither lease nor public=1 gets missing_fencing_token.
		fencing, err := fencingToken(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if leaseID == "" {
			s.fail(w, r, api.ErrCodeMissingParams, "X-Lease-ID header required for a lease read; add public=1 to read committed state")
			return
		}
		lease = &engine.LeaseRef{Namespace: ns, Key: key, LeaseID: leaseID, FencingToken: fencing}
	}
	res, err := s.eng.Get(r.Context(), ns, key, lease)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Body == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	defer res.Body.Close()
	h := w.Header()
	h[api.HeaderETag] = []string{res.ETag}
	h[api.HeaderKeyVersion] = []string{strconv.FormatInt(res.Version, 10)}
	if lease != nil {
		h[api.HeaderFencingToken] = []string{strconv.FormatInt(res.FencingToken, 10)}
	}
	h["Content-Type"] = hdrJSON
	h["Content-Length"] = []string{strconv.FormatInt(res.Size, 10)}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, res.Body); err != nil {
		s.log.Debug("get: stream aborted", "namespace", ns, "key", key, "err", err)
	}
}

func (s *server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	ref, err := s.writeRef(r, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cond, err := conditions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req := engine.UpdateRequest{LeaseRef: ref, Cond: cond, Body: r.Body, MaxBytes: s.cfg.JSONMaxBytes, ExpectedBytes: -1}
	if v := strings.TrimSpace(r.Header.Get(api.HeaderExpectedSHA256)); v != "" {
		if req.ExpectedSHA256, err = engine.ParseExpectedSHA256(v); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if v := strings.TrimSpace(r.Header.Get(api.HeaderExpectedBytes)); v != "" {
		if req.ExpectedBytes, err = engine.ParseExpectedBytes(v); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	// Validated but not applied, as on the reference server (WIRE §4.5):
	// query_hidden is set through /v1/metadata.
	if _, _, err := queryHiddenHeader(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.eng.Update(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeUpdated(w, res)
}

func writeUpdated(w http.ResponseWriter, res engine.UpdateResult) {
	h := w.Header()
	h[api.HeaderKeyVersion] = []string{strconv.FormatInt(res.Version, 10)}
	h[api.HeaderETag] = []string{res.ETag}
	out := api.UpdateResponse{NewVersion: res.Version, NewStateETag: res.ETag, BytesWritten: res.Bytes, Metadata: res.Metadata}
	writeAppended(w, func(b []byte) []byte { return appendUpdateResponse(b, &out) })
}

const metadataBodyMax = 4 << 10

func (s *server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	ref, err := s.writeRef(r, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cond, err := conditions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cond.IfETag = "" // metadata enforces X-If-Version only
	var body api.MetadataUpdateRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, metadataBodyMax), &body, true, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	hidden, ok, err := queryHiddenHeader(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !ok {
		if body.QueryHidden == nil {
			s.fail(w, r, api.ErrCodeInvalidMetadata, `no metadata to set: send {"query_hidden":true|false} or the X-Lockd-Meta-Query-Hidden header`)
			return
		}
		hidden = *body.QueryHidden
	}
	ver, meta, err := s.eng.SetMetadata(r.Context(), ref, cond, hidden)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header()[api.HeaderKeyVersion] = []string{strconv.FormatInt(ver, 10)}
	writeJSON(w, http.StatusOK, &api.MetadataUpdateResponse{Namespace: ref.Namespace, Key: ref.Key, Version: ver, Metadata: meta})
}

func (s *server) handleRemove(w http.ResponseWriter, r *http.Request) {
	ref, err := s.writeRef(r, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cond, err := conditions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// X-If-Version is syntax-checked but not enforced on remove (WIRE §4.8).
	cond.HasIfVersion = false
	removed, ver, err := s.eng.Remove(r.Context(), ref, cond)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ver > 0 {
		w.Header()[api.HeaderKeyVersion] = []string{strconv.FormatInt(ver, 10)}
	}
	writeJSON(w, http.StatusOK, &api.RemoveResponse{Removed: removed, NewVersion: ver})
}

func (s *server) handleMutate(w http.ResponseWriter, r *http.Request) {
	var req api.MutateRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, s.cfg.JSONMaxBytes), &req, true, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	ref, err := s.writeRef(r, req.Namespace)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cond, err := conditions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, _, err := queryHiddenHeader(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	blank := true
	for _, m := range req.Mutations {
		if strings.TrimSpace(m) != "" {
			blank = false
			break
		}
	}
	if blank {
		s.fail(w, r, api.ErrCodeInvalidBody, `mutations are required: send {"mutations":["/path=value", ...]}`)
		return
	}
	muts, err := lql.ParseMutations(req.Mutations, time.Now())
	if err != nil {
		s.fail(w, r, api.ErrCodeInvalidMutations, err.Error())
		return
	}
	res, stats, err := s.eng.Mutate(r.Context(), ref, cond, s.cfg.JSONMaxBytes, func(ctx context.Context, cur io.Reader, out io.Writer) error {
		_, err := lql.MutateStream(ctx, cur, out, muts, lql.MutateOptions{Mode: lql.MutateSingleObject})
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h[api.HeaderMutateCandidatesSeen] = hdrOne
	h[api.HeaderMutateCandidatesWritten] = hdrOne
	h[api.HeaderMutateBytesRead] = []string{strconv.FormatInt(stats.BytesRead, 10)}
	h[api.HeaderMutateBytesWritten] = []string{strconv.FormatInt(stats.BytesWritten, 10)}
	h[api.HeaderMutateBytesCaptured] = hdrZero
	h[api.HeaderMutateSpillCount] = hdrZero
	h[api.HeaderMutateSpillBytes] = hdrZero
	writeUpdated(w, res)
}
