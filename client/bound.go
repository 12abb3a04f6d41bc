package client

import (
	"context"
	"sync"
	"time"
)

// Per-request timeouts (WIRE §8.6) without context.WithTimeout on the hot
// path.
//
// context.WithTimeout costs about seven allocations per request once
// net/http has derived its own context from it: the timerCtx, its timer,
// the cancel closure, the Done channel and the children map the
// transport's context is registered in. Two cases avoid them while keeping
// the bound:
//
//   - the caller's deadline already ends the request no later than the
//     SDK's bound, so the caller's context is used as it is;
//   - the caller's context can never be cancelled (Background, TODO, values
//     on top of them). Nothing then ties the bound to that context's life,
//     so the bound can be recycled: a reqSlot is a cancelCtx that stays
//     uncancelled between requests, cancelled only by its own reusable
//     timer, and its Done channel and children map survive from one request
//     to the next. A slot whose timer fired is cancelled for good and is
//     dropped.
//
// Any other context gets context.WithDeadline as before.

// requestBound ends one request's timeout; at most one field is set. end
// is idempotent, so every path that may finish a request can call it.
type requestBound struct {
	slot   *reqSlot
	cancel context.CancelFunc
}

func (b *requestBound) set() bool { return b.slot != nil || b.cancel != nil }

func (b *requestBound) end() {
	switch {
	case b.slot != nil:
		b.slot.release()
		b.slot = nil
	case b.cancel != nil:
		b.cancel()
		b.cancel = nil
	}
}

// bound returns the context one exchange runs under and what ends its
// timeout.
func (c *Client) bound(ctx context.Context, timeout time.Duration) (context.Context, requestBound) {
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && !dl.After(deadline) {
		return ctx, requestBound{}
	}
	// Slots are only handed to transports the SDK built: net/http's
	// Transport always cancels the context it derives from the request's,
	// so none of its contexts stays registered in a recycled slot. A
	// caller's RoundTripper makes no such promise.
	if c.recycleBounds && ctx.Done() == nil {
		s, _ := c.slots.Get().(*reqSlot)
		if s == nil {
			s = newReqSlot(&c.slots)
		}
		s.arm(ctx, deadline, timeout)
		return s, requestBound{slot: s}
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	return ctx, requestBound{cancel: cancel}
}

// reqSlot is the recyclable request context. It is itself the context
// handed to net/http: Value goes through inner, so the transport finds the
// cancelCtx behind it and registers its own context there without a
// goroutine or an AfterFunc, and every other key reaches the caller's
// context of the current use.
type reqSlot struct {
	inner  context.Context // cancelCtx whose parent is slotParent{s}
	cancel context.CancelCauseFunc
	timer  *time.Timer
	fire   func() // s.expire, bound once so arming never allocates
	pool   *sync.Pool

	// mu guards the fields of the current use. Goroutines of the transport
	// (a dial that outlives its request) may still look up values after
	// the slot has moved on; they then see the new use or nothing, never
	// a torn read.
	mu       sync.Mutex
	parent   context.Context // nil while the slot is idle
	deadline time.Time
}

func newReqSlot(pool *sync.Pool) *reqSlot {
	s := &reqSlot{pool: pool}
	s.inner, s.cancel = context.WithCancelCause(slotParent{s})
	s.fire = s.expire
	return s
}

func (s *reqSlot) arm(parent context.Context, deadline time.Time, timeout time.Duration) {
	s.mu.Lock()
	s.parent, s.deadline = parent, deadline
	s.mu.Unlock()
	if s.timer == nil {
		s.timer = time.AfterFunc(timeout, s.fire)
	} else {
		s.timer.Reset(timeout)
	}
}

// expire runs on the slot's timer: the request overran its bound. net/http
// reports context.Cause, so callers see context.DeadlineExceeded exactly as
// with context.WithTimeout.
func (s *reqSlot) expire() { s.cancel(context.DeadlineExceeded) }

// release ends the current use. A stopped timer means the slot was never
// cancelled and can serve another request; otherwise it is dropped.
func (s *reqSlot) release() {
	if !s.timer.Stop() {
		return
	}
	s.mu.Lock()
	s.parent, s.deadline = nil, time.Time{}
	s.mu.Unlock()
	s.pool.Put(s)
}

func (s *reqSlot) Deadline() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadline, !s.deadline.IsZero()
}

func (s *reqSlot) Done() <-chan struct{} { return s.inner.Done() }

// Err reports DeadlineExceeded once the timer fired: nothing else cancels a
// slot.
func (s *reqSlot) Err() error {
	if s.inner.Err() != nil {
		return context.DeadlineExceeded
	}
	return nil
}

func (s *reqSlot) Value(key any) any { return s.inner.Value(key) }

func (s *reqSlot) String() string { return "lockd.requestContext" }

// value looks key up in the caller's context of the current use.
func (s *reqSlot) value(key any) any {
	s.mu.Lock()
	p := s.parent
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Value(key)
}

// slotParent is the fixed parent of a slot's cancelCtx: never done, with
// the values of whichever caller the slot currently serves.
type slotParent struct{ s *reqSlot }

func (p slotParent) Deadline() (time.Time, bool) { return p.s.Deadline() }
func (slotParent) Done() <-chan struct{}         { return nil }
func (slotParent) Err() error                    { return nil }
func (p slotParent) Value(key any) any           { return p.s.value(key) }
