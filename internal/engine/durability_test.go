package engine

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/ids"
	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

// syncTracker is a store that numbers every logged batch and records how
// far the last returned Commit made the log durable.
type syncTracker struct {
	storage.Store
	mu      sync.Mutex
	logged  int // batches handed to the log
	durable int // batches covered by a returned Commit
}

func (s *syncTracker) Append(ctx context.Context, b storage.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logged++
	return s.Store.Append(ctx, b)
}

func (s *syncTracker) Commit(ctx context.Context, b storage.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logged++
	if err := s.Store.Commit(ctx, b); err != nil {
		return err
	}
	s.durable = s.logged
	return nil
}

// allDurable reports whether every batch logged so far is durable.
func (s *syncTracker) allDurable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.durable == s.logged
}

// TestStagingUnderPreparedTxnIsDurable: once a txn is recorded as pending,
// recovery keeps its staged records, so a staged change acknowledged after
// that must already be durable; before it, staging only appends.
func TestStagingUnderPreparedTxnIsDurable(t *testing.T) {
	ctx := context.Background()
	st := &syncTracker{Store: storage.NewMem()}
	e, err := Open(ctx, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	txn := ids.NewXIDGenerator().New()
	a, err := e.Acquire(ctx, AcquireRequest{Namespace: "n", Key: "k", Owner: "o", TTLSeconds: 30, BlockSeconds: -1, TxnID: txn})
	if err != nil {
		t.Fatal(err)
	}
	ref := LeaseRef{Namespace: "n", Key: "k", LeaseID: a.LeaseID, FencingToken: a.FencingToken, TxnID: txn}
	steps := []struct {
		name    string
		stage   func() error
		durable bool
	}{
		{"update before decide", func() error { return update(ctx, e, ref, `{"v":1}`) }, false},
		{"decide pending", func() error {
			_, err := e.Decide(ctx, DecideRequest{TxnID: txn, State: api.TxnStatePending}, "n")
			return err
		}, true},
		{"update after decide", func() error { return update(ctx, e, ref, `{"v":2}`) }, true},
		{"metadata after decide", func() error {
			_, _, err := e.SetMetadata(ctx, ref, WriteConditions{}, true)
			return err
		}, true},
		{"remove after decide", func() error {
			_, _, err := e.Remove(ctx, ref, WriteConditions{})
			return err
		}, true},
	}
	for _, s := range steps {
		if err := s.stage(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := st.allDurable(); got != s.durable {
			t.Errorf("%s: everything durable = %v, want %v", s.name, got, s.durable)
		}
	}
}

func update(ctx context.Context, e *Engine, ref LeaseRef, doc string) error {
	_, err := e.Update(ctx, UpdateRequest{LeaseRef: ref, Body: strings.NewReader(doc), MaxBytes: 1 << 20, ExpectedBytes: -1})
	return err
}
