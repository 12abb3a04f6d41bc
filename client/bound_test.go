package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type boundKey struct{}

// TestBoundContexts checks each way bound can bound a request.
func TestBoundContexts(t *testing.T) {
	c, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	t.Run("recycled slot carries the caller's values", func(t *testing.T) {
		parent := context.WithValue(context.Background(), boundKey{}, "v")
		before := time.Now()
		ctx, b := c.bound(parent, time.Minute)
		if b.slot == nil {
			t.Fatal("a context that cannot be cancelled should get a recycled slot")
		}
		if got := ctx.Value(boundKey{}); got != "v" {
			t.Fatalf("Value = %v, want the caller's value", got)
		}
		if dl, ok := ctx.Deadline(); !ok || dl.Before(before.Add(time.Minute)) || dl.After(time.Now().Add(time.Minute)) {
			t.Fatalf("Deadline = %v, %v; want about a minute from now", dl, ok)
		}
		if ctx.Done() == nil || ctx.Err() != nil {
			t.Fatalf("Done = %v, Err = %v; want a live, cancellable context", ctx.Done(), ctx.Err())
		}
		b.end()
		b.end() // idempotent
		if got := ctx.Value(boundKey{}); got != nil {
			t.Fatalf("an idle slot still answers %v for the last caller", got)
		}
	})

	t.Run("caller's earlier deadline is used as it is", func(t *testing.T) {
		parent, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ctx, b := c.bound(parent, time.Minute)
		if ctx != parent || b.set() {
			t.Fatal("a caller deadline before the SDK's bound needs no context of its own")
		}
	})

	t.Run("cancellable caller gets a deadline context", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		ctx, b := c.bound(parent, time.Minute)
		defer b.end()
		if b.cancel == nil {
			t.Fatal("a cancellable caller should get context.WithDeadline")
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("cancelling the caller did not end the request context")
		}
	})

	t.Run("a fired slot is not reused", func(t *testing.T) {
		ctx, b := c.bound(context.Background(), time.Millisecond)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("slot did not expire")
		}
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			t.Fatalf("Err = %v, Cause = %v; want DeadlineExceeded", ctx.Err(), context.Cause(ctx))
		}
		fired := b.slot
		b.end()
		for range 100 {
			next, nb := c.bound(context.Background(), time.Minute)
			if nb.slot == fired || next.Err() != nil {
				t.Fatal("an expired slot came back from the pool")
			}
			nb.end()
		}
	})

	t.Run("double close of a streamed body ends its bound once", func(t *testing.T) {
		_, b := c.bound(context.Background(), time.Minute)
		body := &cancelOnClose{ReadCloser: io.NopCloser(strings.NewReader("")), bound: b}
		body.Close()
		body.Close()
		_, b1 := c.bound(context.Background(), time.Minute)
		_, b2 := c.bound(context.Background(), time.Minute)
		if b1.slot == b2.slot {
			t.Fatal("one slot serves two requests at once")
		}
		b1.end()
		b2.end()
	})
}

// TestBoundAllocations pins the point of recycling: once warm, a bounded
// request context costs no allocation.
func TestBoundAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	c, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		_, b := c.bound(ctx, time.Minute)
		b.end()
	})
	// sync.Pool may drop a slot at a GC; anything close to zero is recycling.
	if allocs > 0.5 {
		t.Fatalf("bound+end allocates %.2f times per request, want ~0", allocs)
	}
}

// TestRequestTimeout runs the per-request timeout end to end, for a stalled
// response header and a stalled body, with every kind of caller context.
func TestRequestTimeout(t *testing.T) {
	var stall atomic.Int32 // 0: answer; 1: stall before headers; 2: stall mid-body
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch stall.Load() {
		case 1:
			<-r.Context().Done()
			return
		case 2:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"namespace":`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		io.WriteString(w, `{"namespace":"default"}`)
	}))
	defer srv.Close()
	c, err := New(srv.URL, WithHTTPTimeout(200*time.Millisecond), WithFailureRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var gotConn atomic.Int32
	traced := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { gotConn.Add(1) },
	})
	longer, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cancellable, cancel2 := context.WithCancel(traced)
	defer cancel2()
	callers := map[string]context.Context{
		"background":      context.Background(),
		"values":          traced,
		"later deadline":  longer,
		"without cancel":  context.WithoutCancel(longer),
		"cancellable":     cancellable,
		"caller deadline": nil, // a 200ms caller deadline bounds the request on its own
	}
	for name, ctx := range callers {
		t.Run(name, func(t *testing.T) {
			for _, mode := range []int32{1, 2} {
				cctx := ctx
				if cctx == nil {
					var cancel context.CancelFunc
					cctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
					defer cancel()
				}
				stall.Store(mode)
				start := time.Now()
				_, err := c.GetNamespaceConfig(cctx, "default")
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("stall %d: err = %v, want DeadlineExceeded", mode, err)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Fatalf("stall %d: took %v", mode, d)
				}
				stall.Store(0)
				if ctx == nil {
					continue
				}
				// The bound of the next request is fresh: an expired one
				// is never handed out again.
				for range 3 {
					if _, err := c.GetNamespaceConfig(ctx, "default"); err != nil {
						t.Fatalf("after stall %d: %v", mode, err)
					}
				}
			}
		})
	}
	if gotConn.Load() == 0 {
		t.Fatal("the caller's httptrace never saw a connection: values did not reach the transport")
	}
}
