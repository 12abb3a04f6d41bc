package server

import "testing"

func TestNamespaceConfig(t *testing.T) {
	eachStore(t, func(t *testing.T, store string) {
		ts := startTCP(t, Config{Store: store})
		r := ts.do("GET", "/v1/namespace?namespace=orders", nil, nil)
		wantStatus(t, r, 200, "")
		if string(r.Body) != `{"namespace":"orders","query":{"preferred_engine":"index","fallback_engine":"none"}}`+"\n" || r.Header.Get("ETag") != "" {
			t.Fatalf("default config: %s %v", r.Body, r.Header)
		}
		r = ts.do("PUT", "/v1/namespace", nil, nil)
		wantStatus(t, r, 405, "method_not_allowed")
		if r.Header.Get("Allow") != "GET, POST" {
			t.Fatalf("Allow: %v", r.Header)
		}
		wantStatus(t, ts.post("/v1/namespace?namespace=orders", ``, nil), 400, "invalid_body")
		wantStatus(t, ts.post("/v1/namespace?namespace=orders", `{"namespace":"orders"}`, nil), 400, "invalid_namespace_request")
		wantStatus(t, ts.post("/v1/namespace?namespace=orders", `{"query":{"preferred_engine":"magic"}}`, nil), 400, "invalid_namespace_request")
		wantStatus(t, ts.post("/v1/namespace?namespace=orders", `{"query":{},"x":1}`, nil), 400, "invalid_body")
		wantStatus(t, ts.post("/v1/namespace?namespace=.txns", `{"query":{}}`, nil), 400, "invalid_namespace")
		r = ts.post("/v1/namespace?namespace=ignored", `{"namespace":"Orders","query":{"preferred_engine":"SCAN"}}`, nil)
		wantStatus(t, r, 200, "")
		etag := r.Header.Get("ETag")
		if etag == "" || r.json(t)["query"].(map[string]any)["preferred_engine"] != "scan" || r.json(t)["namespace"] != "orders" {
			t.Fatalf("post: %s %v", r.Body, r.Header)
		}
		r = ts.post("/v1/namespace?namespace=orders", `{"query":{"fallback_engine":"scan"}}`, map[string]string{"If-Match": "stale"})
		wantStatus(t, r, 409, "namespace_config_conflict")
		r = ts.post("/v1/namespace?namespace=orders", `{"query":{"fallback_engine":"scan"}}`, map[string]string{"If-Match": `"` + etag + `"`})
		wantStatus(t, r, 200, "")
		q := r.json(t)["query"].(map[string]any)
		if q["preferred_engine"] != "scan" || q["fallback_engine"] != "scan" || r.Header.Get("ETag") == etag {
			t.Fatalf("merge: %s %v", r.Body, r.Header)
		}
		if g := ts.do("GET", "/v1/namespace?namespace=orders", nil, nil); g.Header.Get("ETag") != r.Header.Get("ETag") {
			t.Fatalf("GET etag %q vs POST %q", g.Header.Get("ETag"), r.Header.Get("ETag"))
		}
	})
}

func TestHealthAndUnknownPaths(t *testing.T) {
	ts := startTCP(t, Config{})
	for _, p := range []string{"/healthz", "/readyz"} {
		r := ts.do("GET", p, nil, nil)
		if r.Status != 200 || len(r.Body) != 0 {
			t.Fatalf("%s: %d %q", p, r.Status, r.Body)
		}
	}
	r := ts.do("GET", "/v1/nope", nil, nil)
	if r.Status != 404 || string(r.Body) != "404 page not found\n" {
		t.Fatalf("unknown path: %d %q", r.Status, r.Body)
	}
}
