package server

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
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

func TestUnixSocketLifecycle(t *testing.T) {
	dir, err := os.MkdirTemp("", "lockd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "d.sock")
	// A stale socket left by a crash is replaced.
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	h, err := Start(context.Background(), Config{Listen: "unix://" + sock, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("start over a stale socket: %v", err)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", fi.Mode(), err)
	}
	if h.URL() != "unix://"+sock {
		t.Fatalf("URL %q", h.URL())
	}
	// A live server's socket is not stolen.
	if h2, err := Start(context.Background(), Config{Listen: sock, ListenProto: "unix", Logger: quietLogger()}); err == nil {
		h2.Stop(context.Background(), WithDrainTimeout(0))
		t.Fatal("second server took a live socket")
	}
	if err := h.Stop(context.Background(), WithDrainTimeout(0)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left after Stop: %v", err)
	}
}

func TestDiskStoreIsExclusive(t *testing.T) {
	store := "disk://" + filepath.Join(t.TempDir(), "data")
	startTCP(t, Config{Store: store})
	if h, err := Start(context.Background(), Config{Store: store, Listen: "127.0.0.1:0", Logger: quietLogger()}); err == nil {
		h.Stop(context.Background(), WithDrainTimeout(0))
		t.Fatal("two servers opened one disk store")
	} else if !strings.Contains(err.Error(), "lock") {
		t.Fatalf("error does not say the store is locked: %v", err)
	}
}
