package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// TxnPrepare records txn req.TxnID as pending, merging its participants and
// extending its expiry.
func (c *Client) TxnPrepare(ctx context.Context, req api.TxnDecisionRequest) (*api.TxnDecisionResponse, error) {
	return c.decide(ctx, req, api.TxnStatePending)
}

// TxnCommit records a commit decision and applies it to every participant:
// their staged changes become visible and their leases are cleared.
func (c *Client) TxnCommit(ctx context.Context, req api.TxnDecisionRequest) (*api.TxnDecisionResponse, error) {
	return c.decide(ctx, req, api.TxnStateCommit)
}

// TxnRollback records a rollback decision and discards the participants'
// staged changes.
func (c *Client) TxnRollback(ctx context.Context, req api.TxnDecisionRequest) (*api.TxnDecisionResponse, error) {
	return c.decide(ctx, req, api.TxnStateRollback)
}

// decide posts to /v1/txn/decide. The response carries the recorded state,
// which is an earlier decision when one exists.
func (c *Client) decide(ctx context.Context, req api.TxnDecisionRequest, state string) (*api.TxnDecisionResponse, error) {
	if req.TxnID == "" {
		return nil, errors.New("lockd: txn decision needs a txn id")
	}
	req.State = state
	if len(req.Participants) > 0 {
		// Participants need a namespace (WIRE §7); fill the default without
		// touching the caller's slice.
		parts := make([]api.TxnParticipant, len(req.Participants))
		for i, p := range req.Participants {
			p.Namespace = c.namespaceOr(p.Namespace)
			parts[i] = p
		}
		req.Participants = parts
	}
	cl, err := jsonCall("/v1/txn/decide", req)
	if err != nil {
		return nil, err
	}
	cl.retry = true
	var out api.TxnDecisionResponse
	if _, _, err := c.doJSON(ctx, &cl, &out); err != nil {
		return nil, fmt.Errorf("txn %s %s: %w", state, req.TxnID, err)
	}
	c.forgetTxnLeases(req.TxnID, state)
	return &out, nil
}

// forgetTxnLeases drops the bookkeeping of leases a commit or rollback
// cleared on the server.
func (c *Client) forgetTxnLeases(txnID, state string) {
	if state == api.TxnStatePending {
		return
	}
	c.mu.Lock()
	var ended []*LeaseSession
	for s := range c.sessions {
		if s.TxnID == txnID {
			ended = append(ended, s)
		}
	}
	c.mu.Unlock()
	for _, s := range ended {
		s.mu.Lock()
		s.serverOff = true
		s.mu.Unlock()
		s.finish(sessionReleased, ErrSessionReleased)
		c.forgetLease(s.LeaseID)
	}
}

// TxnReplay re-applies the recorded decision of txnID; an expired pending
// txn is rolled back first, a live one stays pending.
func (c *Client) TxnReplay(ctx context.Context, txnID string) (*api.TxnReplayResponse, error) {
	cl, err := jsonCall("/v1/txn/replay", api.TxnReplayRequest{TxnID: txnID})
	if err != nil {
		return nil, err
	}
	cl.retry = true
	var out api.TxnReplayResponse
	if _, _, err := c.doJSON(ctx, &cl, &out); err != nil {
		return nil, fmt.Errorf("txn replay %s: %w", txnID, err)
	}
	return &out, nil
}
