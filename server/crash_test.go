package server

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var crashRounds = flag.Int("crash.rounds", 10, "kill/restart rounds of TestCrashKeepsAcknowledgedCommits")

// TestCrashChild is the server process of the crash test; it only runs when
// re-executed by TestCrashKeepsAcknowledgedCommits.
func TestCrashChild(t *testing.T) {
	store, urlFile := os.Getenv("LOCKD_CRASH_STORE"), os.Getenv("LOCKD_CRASH_URL_FILE")
	if store == "" {
		t.Skip("crash test child process only")
	}
	h, err := Start(context.Background(), Config{Store: store, Listen: "127.0.0.1:0", Logger: quietLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child start:", err)
		os.Exit(3)
	}
	tmp := urlFile + ".tmp"
	os.WriteFile(tmp, []byte(h.URL()), 0o600)
	os.Rename(tmp, urlFile)
	select {} // until SIGKILL
}

type crashChild struct {
	cmd *exec.Cmd
	url string
}

func startCrashChild(t *testing.T, store, dir string) *crashChild {
	t.Helper()
	urlFile := filepath.Join(dir, "url")
	os.Remove(urlFile)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LOCKD_CRASH_STORE="+store, "LOCKD_CRASH_URL_FILE="+urlFile)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &crashChild{cmd: cmd}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(urlFile); err == nil {
			c.url = string(b)
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("crash child did not start")
	return nil
}

func (c *crashChild) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// TestCrashKeepsAcknowledgedCommits runs the server as a subprocess on a
// disk store, SIGKILLs it in the middle of a write loop, restarts it and
// checks that every acknowledged commit is present and every document
// parses.
func TestCrashKeepsAcknowledgedCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop skipped in -short mode")
	}
	dir := t.TempDir()
	store := "disk://" + filepath.Join(dir, "data")
	const writers = 4
	// acked[key] is the last sequence number whose release was acknowledged;
	// sent[key] the last one attempted.
	acked, sent := map[string]int{}, map[string]int{}
	var mu sync.Mutex
	for round := 0; round < *crashRounds; round++ {
		child := startCrashChild(t, store, dir)
		ts := &testServer{t: t, base: child.url, client: newCycleClient(child.url).client}
		verifyCrashState(t, ts, acked, sent)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				key := "r" + strconv.Itoa(round) + "-w" + strconv.Itoa(w)
				c := newCycleClient(child.url)
				for seq := 1; ; seq++ {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					sent[key] = seq
					mu.Unlock()
					if err := crashCycle(c, key, seq); err != nil {
						return // the server died
					}
					mu.Lock()
					acked[key] = seq
					mu.Unlock()
				}
			}(w)
		}
		time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond)
		child.kill()
		close(stop)
		wg.Wait()
	}
	child := startCrashChild(t, store, dir)
	ts := &testServer{t: t, base: child.url, client: newCycleClient(child.url).client}
	n := verifyCrashState(t, ts, acked, sent)
	t.Logf("%d rounds, %d keys, %d acknowledged commits verified", *crashRounds, len(acked), n)
	child.kill()
}

func crashCycle(c *cycleClient, key string, seq int) error {
	body, _, st, err := c.call("POST", "/v1/acquire", []byte(`{"key":"`+key+`","owner":"crash","ttl_seconds":30,"block_seconds":-1}`), nil)
	if err != nil || st != 200 {
		return fmt.Errorf("acquire %d %s %v", st, body, err)
	}
	var a struct {
		LeaseID string `json:"lease_id"`
		TxnID   string `json:"txn_id"`
		Fencing int64  `json:"fencing_token"`
	}
	json.Unmarshal(body, &a)
	tok := strconv.FormatInt(a.Fencing, 10)
	doc := `{"key":"` + key + `","seq":` + strconv.Itoa(seq) + `,"pad":"` + strings.Repeat("x", 200+seq%700) + `"}`
	if _, _, st, err = c.call("POST", "/v1/update?key="+key, []byte(doc), map[string]string{"X-Lease-Id": a.LeaseID, "X-Txn-Id": a.TxnID, "X-Fencing-Token": tok}); err != nil || st != 200 {
		return fmt.Errorf("update %d %v", st, err)
	}
	_, _, st, err = c.call("POST", "/v1/release", []byte(`{"key":"`+key+`","lease_id":"`+a.LeaseID+`","txn_id":"`+a.TxnID+`"}`), map[string]string{"X-Fencing-Token": tok})
	if err != nil || st != 200 {
		return fmt.Errorf("release %d %v", st, err)
	}
	return nil
}

// verifyCrashState checks every key: its public document parses and holds
// the last acknowledged sequence, or the one in flight when the server died.
func verifyCrashState(t *testing.T, ts *testServer, acked, sent map[string]int) int {
	t.Helper()
	n := 0
	for key, last := range sent {
		g := ts.publicGet("default", key)
		want := acked[key]
		if g.Status == 204 {
			if want != 0 {
				t.Fatalf("%s: acknowledged seq %d lost (no state)", key, want)
			}
			continue
		}
		var doc struct {
			Key string `json:"key"`
			Seq int    `json:"seq"`
		}
		if g.Status != 200 || json.Unmarshal(g.Body, &doc) != nil || doc.Key != key {
			t.Fatalf("%s: unreadable document after crash: %d %q", key, g.Status, g.Body)
		}
		if doc.Seq < want || doc.Seq > last {
			t.Fatalf("%s: seq %d after crash, acknowledged %d, last sent %d", key, doc.Seq, want, last)
		}
		n += want
	}
	return n
}
