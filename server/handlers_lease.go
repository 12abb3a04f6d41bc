package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/engine"
	"github.com/lockd-mcp/lockd-mcp/internal/ids"
)

// queryValue returns the first value of name in the raw query without
// building the url.Values map.
func queryValue(raw, name string) string {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != name {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if uk, err := url.QueryUnescape(k); err != nil || uk != name {
				continue
			}
		}
		if strings.ContainsAny(v, "%+") {
			if uv, err := url.QueryUnescape(v); err == nil {
				return uv
			}
		}
		return v
	}
	return ""
}

func normalizeDefaultNS(ns string) (string, error) { return engine.NormalizeNamespace(ns, "") }

// namespace resolves a request namespace against the server default.
func (s *server) namespace(raw string) (string, error) {
	return engine.NormalizeNamespace(raw, s.cfg.DefaultNamespace)
}

func (s *server) handleAcquire(w http.ResponseWriter, r *http.Request) {
	var req api.AcquireRequest
	if err := decodeStrictFast(http.MaxBytesReader(w, r.Body, s.cfg.JSONMaxBytes), &req, acquireFields); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.drainUntil.Load() != 0 {
		s.writeError(w, r, engine.ErrDraining)
		return
	}
	ns, err := s.namespace(req.Namespace)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rawKey := req.Key
	if strings.TrimSpace(rawKey) == "" {
		rawKey = queryValue(r.URL.RawQuery, "key")
	}
	echo := engine.StripNamespacePrefix(rawKey, ns)
	var key string
	if strings.TrimPrefix(echo, "/") == "" {
		key = ids.NewUUIDv7()
		echo = key
	} else if key, err = engine.NormalizeKey(echo); err != nil {
		s.writeError(w, r, err)
		return
	}
	if strings.TrimSpace(req.Owner) == "" {
		s.fail(w, r, api.ErrCodeMissingOwner, "owner is required")
		return
	}
	txnID := req.TxnID
	if txnID == "" {
		txnID = strings.TrimSpace(r.Header.Get(api.HeaderTxnID))
	}
	if txnID != "" {
		if err := ids.ValidXID(txnID); err != nil {
			s.fail(w, r, api.ErrCodeInvalidTxn, "txn_id "+strconv.Quote(txnID)+": "+err.Error())
			return
		}
	}
	res, err := s.eng.Acquire(r.Context(), engine.AcquireRequest{
		Namespace: ns, Key: key, Owner: req.Owner, TTLSeconds: req.TTLSeconds,
		BlockSeconds: req.BlockSecs, IfNotExists: req.IfNotExists, TxnID: txnID,
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cid := correlationID(r)
	h := w.Header()
	h[api.HeaderFencingToken] = []string{strconv.FormatInt(res.FencingToken, 10)}
	h[api.HeaderKeyVersion] = []string{strconv.FormatInt(res.Version, 10)}
	h[api.HeaderCorrelationID] = []string{cid}
	out := api.AcquireResponse{
		Namespace: ns, LeaseID: res.LeaseID, TxnID: res.TxnID, Key: echo, Owner: req.Owner,
		ExpiresAt: res.ExpiresAt, Version: res.Version, StateETag: res.StateETag,
		FencingToken: res.FencingToken, CorrelationID: cid,
	}
	writeAppended(w, func(b []byte) []byte { return appendAcquireResponse(b, &out) })
}

// leaseTarget resolves namespace and key from a body, falling back to the
// query string.
func (s *server) leaseTarget(r *http.Request, bodyNS, bodyKey string) (string, string, error) {
	if strings.TrimSpace(bodyNS) == "" {
		bodyNS = queryValue(r.URL.RawQuery, "namespace")
	}
	ns, err := s.namespace(bodyNS)
	if err != nil {
		return "", "", err
	}
	if strings.TrimSpace(bodyKey) == "" {
		bodyKey = queryValue(r.URL.RawQuery, "key")
	}
	key, err := engine.NormalizeKey(bodyKey)
	if err != nil {
		return "", "", err
	}
	return ns, key, nil
}

// bodyLeaseRef checks what keepalive and release share, in the order the
// wire reports it: the fencing header, namespace and key (body, else query),
// then the lease id.
func (s *server) bodyLeaseRef(r *http.Request, bodyNS, bodyKey, leaseID string) (engine.LeaseRef, error) {
	fencing, err := fencingToken(r)
	if err != nil {
		return engine.LeaseRef{}, err
	}
	ns, key, err := s.leaseTarget(r, bodyNS, bodyKey)
	if err != nil {
		return engine.LeaseRef{}, err
	}
	if leaseID == "" {
		return engine.LeaseRef{}, errMissing(api.ErrCodeMissingLease, "lease_id is required")
	}
	return engine.LeaseRef{Namespace: ns, Key: key, LeaseID: leaseID, FencingToken: fencing}, nil
}

func (s *server) handleKeepAlive(w http.ResponseWriter, r *http.Request) {
	var req api.KeepAliveRequest
	if err := decodeStrictFast(http.MaxBytesReader(w, r.Body, s.cfg.JSONMaxBytes), &req, keepAliveFields); err != nil {
		s.writeError(w, r, err)
		return
	}
	ref, err := s.bodyLeaseRef(r, req.Namespace, req.Key, req.LeaseID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ref.TxnID = req.TxnID
	if v := strings.TrimSpace(r.Header.Get(api.HeaderTxnID)); v != "" {
		ref.TxnID = v
	}
	exp, err := s.eng.KeepAlive(r.Context(), ref, req.TTLSeconds)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header()[api.HeaderFencingToken] = []string{strconv.FormatInt(ref.FencingToken, 10)}
	writeJSON(w, http.StatusOK, &api.KeepAliveResponse{ExpiresAt: exp})
}

func (s *server) handleRelease(w http.ResponseWriter, r *http.Request) {
	var req api.ReleaseRequest
	if err := decodeStrictFast(http.MaxBytesReader(w, r.Body, s.cfg.JSONMaxBytes), &req, releaseFields); err != nil {
		s.writeError(w, r, err)
		return
	}
	ref, err := s.bodyLeaseRef(r, req.Namespace, req.Key, req.LeaseID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.TxnID == "" {
		s.fail(w, r, api.ErrCodeMissingTxn, "txn_id is required: send the txn_id returned by acquire")
		return
	}
	ref.TxnID = req.TxnID
	if err := s.eng.Release(r.Context(), ref, req.Rollback); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeReleased(w)
}

var releasedBody = []byte("{\"released\":true}\n")

func writeReleased(w http.ResponseWriter) { writeBytes(w, http.StatusOK, releasedBody) }

func (s *server) handleDescribe(w http.ResponseWriter, r *http.Request) {
	ns, err := s.namespace(queryValue(r.URL.RawQuery, "namespace"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	key, err := engine.NormalizeKey(queryValue(r.URL.RawQuery, "key"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := s.eng.Describe(ns, key)
	writeJSON(w, http.StatusOK, &resp)
}
