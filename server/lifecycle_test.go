package server

import (
	"testing"
)

func TestLeaseStateLifecycle(t *testing.T) {
	for _, st := range stores {
		for _, proto := range []string{"tcp", "unix"} {
			t.Run(st.name+"/"+proto, func(t *testing.T) {
				url := st.url(t)
				var ts *testServer
				if proto == "tcp" {
					ts = startTCP(t, Config{Store: url})
				} else {
					ts = startUnix(t, Config{Store: url})
				}
				l := ts.acquire("default", "k1", nil)
				if l.Fencing != 1 || l.Version != 0 {
					t.Fatalf("first grant: %+v", l)
				}
				r := ts.update(l, `{ "b": 2,  "a": [1, 2, 3] }`)
				wantStatus(t, r, 200, "")
				m := r.json(t)
				if m["new_version"].(float64) != 1 || m["bytes"].(float64) != 19 {
					t.Fatalf("update: %s", r.Body)
				}
				if r.Header.Get("ETag") != "ed76d27d1563210fbfa36dff79e60488610ffb7b522c76d0f5d839b82adb3c44" {
					t.Fatalf("etag %q", r.Header.Get("ETag"))
				}
				wantStatus(t, ts.publicGet("default", "k1"), 204, "")
				g := ts.post("/v1/get"+l.q(), nil, l.hdr())
				wantStatus(t, g, 200, "")
				if string(g.Body) != `{"b":2,"a":[1,2,3]}` {
					t.Fatalf("lease get %q", g.Body)
				}
				wantStatus(t, ts.release(l, false), 200, "")
				g = ts.publicGet("default", "k1")
				wantStatus(t, g, 200, "")
				if string(g.Body) != `{"b":2,"a":[1,2,3]}` || g.Header.Get("X-Key-Version") != "1" {
					t.Fatalf("public get %d %q %v", g.Status, g.Body, g.Header)
				}
				l2 := ts.acquire("default", "k1", nil)
				if l2.Fencing != 2 || l2.Version != 1 || l2.ETag == "" {
					t.Fatalf("second grant: %+v", l2)
				}
			})
		}
	}
}
