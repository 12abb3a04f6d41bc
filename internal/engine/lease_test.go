package engine

import (
	"context"
	"strconv"
	"testing"
	"time"
)

func waiters(e *Engine, ns, key string) int {
	ent := e.entry(keyID{ns, key}, false)
	ent.mu.Lock()
	defer ent.mu.Unlock()
	return len(ent.waiters)
}

// TestWaitersFIFO queues acquires one by one (checking the queue length, so
// the order is certain) and checks they are granted in that order.
func TestWaitersFIFO(t *testing.T) {
	e := openTestEngine(t)
	ctx := context.Background()
	first, err := e.Acquire(ctx, AcquireRequest{Namespace: "n", Key: "k", Owner: "first", BlockSeconds: -1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	type grant struct {
		i   int
		ref LeaseRef
	}
	granted := make(chan grant, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			res, err := e.Acquire(ctx, AcquireRequest{Namespace: "n", Key: "k", Owner: "w" + strconv.Itoa(i), BlockSeconds: 10})
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			granted <- grant{i, LeaseRef{Namespace: "n", Key: "k", LeaseID: res.LeaseID, FencingToken: res.FencingToken, TxnID: res.TxnID}}
		}(i)
		for waiters(e, "n", "k") != i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	release := LeaseRef{Namespace: "n", Key: "k", LeaseID: first.LeaseID, FencingToken: first.FencingToken, TxnID: first.TxnID}
	for i := 0; i < n; i++ {
		e.Release(ctx, release, false)
		// The freed key belongs to the head waiter: a no-wait newcomer
		// does not jump the queue.
		if _, err := e.Acquire(ctx, AcquireRequest{Namespace: "n", Key: "k", Owner: "barger", BlockSeconds: -1}); Code(err) != "waiting" {
			t.Fatalf("newcomer jumped the queue: %v", err)
		}
		select {
		case g := <-granted:
			if g.i != i {
				t.Fatalf("grant %d went to waiter %d", i, g.i)
			}
			release = g.ref
		case <-time.After(10 * time.Second):
			t.Fatal("waiters stalled")
		}
	}
}

// TestWaiterTimeoutPassesTurn: a waiter that gives up leaves the queue, and
// the turn goes to the next one.
func TestWaiterTimeoutPassesTurn(t *testing.T) {
	e := openTestEngine(t)
	ctx := context.Background()
	held, _ := e.Acquire(ctx, AcquireRequest{Namespace: "n", Key: "k", Owner: "a", BlockSeconds: -1})
	cctx, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() {
		_, err := e.Acquire(cctx, AcquireRequest{Namespace: "n", Key: "k", Owner: "gone", BlockSeconds: 0})
		gone <- err
	}()
	for waiters(e, "n", "k") != 1 {
		time.Sleep(time.Millisecond)
	}
	next := make(chan AcquireResult, 1)
	go func() {
		res, err := e.Acquire(ctx, AcquireRequest{Namespace: "n", Key: "k", Owner: "next", BlockSeconds: 10})
		if err != nil {
			t.Error(err)
		}
		next <- res
	}()
	for waiters(e, "n", "k") != 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-gone; err == nil {
		t.Fatal("cancelled waiter got the lease")
	}
	e.Release(ctx, LeaseRef{Namespace: "n", Key: "k", LeaseID: held.LeaseID, FencingToken: held.FencingToken, TxnID: held.TxnID}, false)
	select {
	case res := <-next:
		if res.FencingToken != 2 {
			t.Fatalf("next waiter got token %d", res.FencingToken)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the turn was not passed on")
	}
}
