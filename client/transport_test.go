package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// deadEndpoint returns the URL of a TCP port nobody listens on.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

const fakeAcquire = `{"namespace":"default","lease_id":"dc3rt69ksdu9l1n1tqmg","txn_id":"dc3rt69ksdu9l1n1tqn0","key":"k","owner":"o","expires_at_unix":4102444800,"version":0,"fencing_token":1}`

func writeError(w http.ResponseWriter, status int, code string, header map[string]string) {
	for k, v := range header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, `{"error":"`+code+`","detail":"test"}`+"\n")
}

func TestFailoverDeadEndpoint(t *testing.T) {
	var hits atomic.Int32
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, `{"namespace":"default","key":"k","version":3}`)
	}))
	defer live.Close()
	cli, err := NewWithEndpoints([]string{deadEndpoint(t), live.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for i := range 20 {
		d, err := cli.Describe(context.Background(), "k")
		if err != nil {
			t.Fatalf("describe %d: %v", i, err)
		}
		if d.Version != 3 {
			t.Fatalf("version = %d", d.Version)
		}
	}
	if hits.Load() != 20 {
		t.Fatalf("live hits = %d, want 20", hits.Load())
	}
}

func TestFailoverAllDead(t *testing.T) {
	cli, err := NewWithEndpoints([]string{deadEndpoint(t), deadEndpoint(t)}, WithFailureRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	_, err = cli.Describe(context.Background(), "k")
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("err = %v, want a transport error", err)
	}
}

func TestFailoverPassiveNode(t *testing.T) {
	var passiveHits, liveHits atomic.Int32
	passive := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		passiveHits.Add(1)
		writeError(w, 503, api.ErrCodeNodePassive, map[string]string{"Retry-After": "1"})
	}))
	defer passive.Close()
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		liveHits.Add(1)
		io.WriteString(w, `{"namespace":"default","key":"k"}`)
	}))
	defer live.Close()
	cli, err := NewWithEndpoints([]string{passive.URL, live.URL}, WithEndpointShuffle(false))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Describe(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if passiveHits.Load() != 1 || liveHits.Load() != 1 {
		t.Fatalf("hits passive=%d live=%d", passiveHits.Load(), liveHits.Load())
	}
}

func TestRetryPassiveThenStreamSingleShot(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/acquire":
			io.WriteString(w, fakeAcquire)
		case "/v1/update":
			if hits.Add(1) <= 2 {
				writeError(w, 503, api.ErrCodeNodePassive, nil)
				return
			}
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, `{"new_version":1,"new_state_etag":"e1","bytes":2,"metadata":{}}`)
		}
	}))
	defer srv.Close()
	cli, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "o"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sess.UpdateBytes(ctx, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 3 || res.NewVersion != 1 || sess.CurrentETag() != "e1" {
		t.Fatalf("hits=%d res=%+v etag=%q", hits.Load(), res, sess.CurrentETag())
	}
	hits.Store(0)
	_, err = cli.UpdateStream(ctx, "k", sess.LeaseID, strings.NewReader(`{}`), UpdateOptions{})
	if err == nil || hits.Load() != 1 {
		t.Fatalf("UpdateStream err=%v hits=%d, want one failed attempt", err, hits.Load())
	}
}

func TestAcquireHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		code     string
		header   func() map[string]string
		minDelay time.Duration
		wantQRF  string
	}{
		{"429 seconds", 429, api.ErrCodeThrottled, func() map[string]string {
			return map[string]string{"Retry-After": "1", "X-Lockd-QRF-State": "Engaged"}
		}, 900 * time.Millisecond, "engaged"},
		{"409 http date", 409, api.ErrCodeWaiting, func() map[string]string {
			return map[string]string{"Retry-After": time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)}
		}, 900 * time.Millisecond, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					writeError(w, tt.status, tt.code, tt.header())
					return
				}
				io.WriteString(w, fakeAcquire)
			}))
			defer srv.Close()
			cli, err := New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			ctx := context.Background()
			// A no-wait acquire surfaces the hint instead of sleeping on it.
			_, err = cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "o", BlockSecs: BlockNoWait})
			var ae *APIError
			if !errors.As(err, &ae) || ae.RetryAfter <= 0 || ae.QRFState != tt.wantQRF {
				t.Fatalf("no-wait err = %#v", err)
			}
			n.Store(0)
			start := time.Now()
			sess, err := cli.Acquire(ctx, api.AcquireRequest{Key: "k", Owner: "o"},
				WithAcquireBackoff(10*time.Millisecond, 10*time.Millisecond, 1), WithAcquireJitter(0))
			if err != nil {
				t.Fatal(err)
			}
			if elapsed := time.Since(start); elapsed < tt.minDelay {
				t.Fatalf("acquire retried after %v, want >= %v", elapsed, tt.minDelay)
			}
			if sess.CurrentFencingToken() != 1 || n.Load() != 2 {
				t.Fatalf("token=%d attempts=%d", sess.CurrentFencingToken(), n.Load())
			}
		})
	}
}

func TestAcquireTerminalErrors(t *testing.T) {
	tests := []struct {
		status int
		code   string
		target error
	}{
		{409, api.ErrCodeAlreadyExists, ErrAlreadyExists},
		{403, api.ErrCodeNamespaceForbidden, nil},
	}
	for _, tt := range tests {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			writeError(w, tt.status, tt.code, nil)
		}))
		cli, _ := New(srv.URL)
		_, err := cli.Acquire(context.Background(), api.AcquireRequest{Key: "k", Owner: "o"})
		if err == nil || n.Load() != 1 || (tt.target != nil && !errors.Is(err, tt.target)) {
			t.Errorf("%s: err=%v attempts=%d", tt.code, err, n.Load())
		}
		srv.Close()
	}
}
