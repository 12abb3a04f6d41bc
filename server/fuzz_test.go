package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fuzzServer returns a mem-backed server whose handler the fuzz targets call
// in-process (no sockets, so each input is cheap).
func fuzzServer(f *testing.F) *server {
	h, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { h.Stop(context.Background(), WithDrainTimeout(0)) })
	return h.s
}

// checkFuzzResponse asserts the handler answered with a contract status and,
// for errors, a well-formed envelope.
func checkFuzzResponse(t *testing.T, rec *httptest.ResponseRecorder, allowed ...int) {
	t.Helper()
	ok := false
	for _, s := range allowed {
		ok = ok || rec.Code == s
	}
	if !ok {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		var e struct {
			Error  string `json:"error"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || e.Detail == "" {
			t.Fatalf("bad error envelope %q", rec.Body)
		}
		if rec.Header().Get("X-Correlation-Id") == "" {
			t.Fatal("error without X-Correlation-Id")
		}
	}
}

func serveFuzz(s *server, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

var decodeSeeds = []string{
	`{"namespace":"default","key":"k1","owner":"me","ttl_seconds":30}`,
	`{"key":"a/b/c","owner":"o","block_seconds":-1,"if_not_exists":true}`,
	`{"key":"k","owner":"o","txn_id":"c5v9d0sl70b3m3q8ndg0","block_seconds":-1}`,
	`{"key":"k","lease_id":"c5v9d0sl70b3m3q8ndg0","txn_id":"c5v9d0sl70b3m3q8ndg0","rollback":true}`,
	`{"key":"k","lease_id":"x","ttl_seconds":-5}`,
	`not json`, ``, `{}`, `{"key":"k"} {}`, `{"key":1}`, `{"bogus":true}`, `[]`, `null`,
	`{"namespace":".txns","key":"k","owner":"o"}`, `{"key":"` + strings.Repeat("a", 200) + `","owner":"o"}`,
}

func FuzzAcquireBody(f *testing.F) {
	s := fuzzServer(f)
	for _, seed := range decodeSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := serveFuzz(s, "/v1/acquire", body, nil)
		checkFuzzResponse(t, rec, 200, 400, 409)
		if rec.Code == 200 {
			var a struct {
				LeaseID string `json:"lease_id"`
				Fencing int64  `json:"fencing_token"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || len(a.LeaseID) != 20 || a.Fencing < 1 {
				t.Fatalf("acquire response %q", rec.Body)
			}
		}
	})
}

func FuzzKeepAliveBody(f *testing.F) {
	s := fuzzServer(f)
	for _, seed := range decodeSeeds {
		f.Add(seed, "1")
	}
	f.Fuzz(func(t *testing.T, body, token string) {
		rec := serveFuzz(s, "/v1/keepalive", body, map[string]string{"X-Fencing-Token": token, "X-Txn-ID": "c5v9d0sl70b3m3q8ndg0"})
		checkFuzzResponse(t, rec, 200, 400, 403, 409)
	})
}

func FuzzReleaseBody(f *testing.F) {
	s := fuzzServer(f)
	for _, seed := range decodeSeeds {
		f.Add(seed, "1")
	}
	f.Fuzz(func(t *testing.T, body, token string) {
		rec := serveFuzz(s, "/v1/release", body, map[string]string{"X-Fencing-Token": token})
		checkFuzzResponse(t, rec, 200, 400, 409)
		if rec.Code == 200 && rec.Body.String() != "{\"released\":true}\n" {
			t.Fatalf("release body %q", rec.Body)
		}
	})
}
