package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/engine"
	"github.com/lockd-mcp/lockd-mcp/internal/ids"
)

// txnID resolves and validates the txn id of a txn endpoint: the body value
// wins over the txn_id query parameter.
func txnID(r *http.Request, body string) (string, error) {
	id := strings.TrimSpace(body)
	if id == "" {
		id = strings.TrimSpace(queryValue(r.URL.RawQuery, "txn_id"))
	}
	if id == "" {
		return "", errMissing(api.ErrCodeMissingTxnID, "txn_id is required")
	}
	if err := ids.ValidXID(id); err != nil {
		return "", errMissing(api.ErrCodeInvalidTxnID, "txn_id "+strconv.Quote(id)+": "+err.Error())
	}
	return id, nil
}

// decodeTxnDecision reads the body of decide, commit and rollback
// (leniently, empty allowed) and resolves its txn id.
func (s *server) decodeTxnDecision(w http.ResponseWriter, r *http.Request) (api.TxnDecisionRequest, string, error) {
	var req api.TxnDecisionRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, s.cfg.JSONMaxBytes), &req, false, true); err != nil {
		return req, "", err
	}
	id, err := txnID(r, req.TxnID)
	return req, id, err
}

func (s *server) handleTxnDecide(w http.ResponseWriter, r *http.Request) {
	req, id, err := s.decodeTxnDecision(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	state := req.State
	if state == "" {
		state = queryValue(r.URL.RawQuery, "state")
	}
	state = strings.ToLower(strings.TrimSpace(state))
	switch state {
	case api.TxnStatePending, api.TxnStateCommit, api.TxnStateRollback:
	default:
		s.fail(w, r, api.ErrCodeInvalidState, "state "+strconv.Quote(state)+": allowed values are pending, commit, rollback")
		return
	}
	got, err := s.eng.Decide(r.Context(), engine.DecideRequest{TxnID: id, State: state, Participants: req.Participants, ExpiresAt: req.ExpiresAtUnix}, s.cfg.DefaultNamespace)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &api.TxnDecisionResponse{TxnID: id, State: got})
}

func (s *server) handleTxnApply(w http.ResponseWriter, r *http.Request, decision string) {
	req, id, err := s.decodeTxnDecision(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	got, err := s.eng.Apply(r.Context(), id, decision, req.Participants, s.cfg.DefaultNamespace)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &api.TxnDecisionResponse{TxnID: id, State: got})
}

func (s *server) handleTxnReplay(w http.ResponseWriter, r *http.Request) {
	var req api.TxnReplayRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, s.cfg.JSONMaxBytes), &req, false, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := txnID(r, req.TxnID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	got, err := s.eng.Replay(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &api.TxnReplayResponse{TxnID: id, State: got})
}

const namespaceBodyMax = 32 << 10

func (s *server) handleNamespace(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		s.fail(w, r, api.ErrCodeMethodNotAllowed, "method "+r.Method+" not allowed: use GET or POST")
		return
	}
	rawNS := queryValue(r.URL.RawQuery, "namespace")
	if r.Method == http.MethodGet {
		ns, err := s.namespace(rawNS)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		cfg, etag := s.eng.NamespaceConfig(ns)
		if etag != "" {
			w.Header()[api.HeaderETag] = []string{etag}
		}
		writeJSON(w, http.StatusOK, &api.NamespaceConfigResponse{Namespace: ns, Query: cfg})
		return
	}
	var req api.NamespaceConfigRequest
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, namespaceBodyMax), &req, true, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if strings.TrimSpace(req.Namespace) != "" {
		rawNS = req.Namespace
	}
	ns, err := s.namespace(rawNS)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Query == nil {
		s.fail(w, r, api.ErrCodeInvalidNamespaceReq, `query is required: send {"query":{"preferred_engine":"index|scan","fallback_engine":"scan|none"}}`)
		return
	}
	cfg, etag, err := s.eng.SetNamespaceConfig(r.Context(), ns, *req.Query, unquote(r.Header.Get(api.HeaderIfMatch)))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header()[api.HeaderETag] = []string{etag}
	writeJSON(w, http.StatusOK, &api.NamespaceConfigResponse{Namespace: ns, Query: cfg})
}
