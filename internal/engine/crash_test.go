package engine

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

var crashRounds = flag.Int("engine.crash-rounds", 10, "rounds of TestEngineCrash (SIGKILL of a process running lease cycles)")

const (
	engineCrashDirEnv = "LOCKD_ENGINE_CRASH_DIR"
	engineCrashKeys   = 6
)

// TestEngineCrash checks the durability policy of doc.go across SIGKILLs of
// a process running acquire -> update -> release cycles on a disk store:
// every acknowledged release is present, no lease survives the restart, and
// no fencing token is reissued or goes backwards, across every crash.
func TestEngineCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop skipped in -short mode")
	}
	dir := t.TempDir()
	lastToken := make(map[string]int64) // highest token acknowledged so far
	for round := range *crashRounds {
		grants, releases := runEngineCrashChild(t, dir, time.Duration(5+rand.IntN(150))*time.Millisecond)
		t.Logf("round %d", round)
		e := openDiskEngine(t, dir)
		if n := e.ActiveLeases(); n != 0 {
			t.Fatalf("round %d: %d leases survived the crash", round, n)
		}
		for k := range engineCrashKeys {
			key := "k" + strconv.Itoa(k)
			for _, tok := range grants[key] {
				if tok <= lastToken[key] {
					t.Fatalf("round %d: key %s granted token %d after %d was acknowledged", round, key, tok, lastToken[key])
				}
				lastToken[key] = tok
			}
			if d := e.Describe("crash", key); d.LeaseID != "" {
				t.Fatalf("round %d: key %s still leased by %s after restart", round, key, d.LeaseID)
			}
			got := committedSeq(t, e, key)
			if want := releases[key]; got < want {
				t.Fatalf("round %d: key %s holds release %d, but release %d was acknowledged", round, key, got, want)
			}
			// The next grant must pass every token acknowledged before.
			res, err := e.Acquire(context.Background(), AcquireRequest{Namespace: "crash", Key: key, Owner: "check", BlockSeconds: -1})
			if err != nil {
				t.Fatalf("round %d: acquire %s after restart: %v", round, key, err)
			}
			if res.FencingToken <= lastToken[key] {
				t.Fatalf("round %d: key %s token %d after restart, %d was acknowledged before the crash", round, key, res.FencingToken, lastToken[key])
			}
			lastToken[key] = res.FencingToken
			if err := e.Release(context.Background(), LeaseRef{Namespace: "crash", Key: key, LeaseID: res.LeaseID, FencingToken: res.FencingToken, TxnID: res.TxnID}, false); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range grants {
			n += len(g)
		}
		t.Logf("round %d: %d acknowledged grants, every acknowledged release present", round, n)
	}
}

// committedSeq reads the release number held in key's committed document.
func committedSeq(t *testing.T, e *Engine, key string) int {
	t.Helper()
	g, err := e.Get(context.Background(), "crash", key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.Body == nil {
		return 0
	}
	defer g.Body.Close()
	b, err := io.ReadAll(g.Body)
	if err != nil {
		t.Fatal(err)
	}
	var seq int
	if _, err := fmt.Sscanf(string(b), `{"seq":%d`, &seq); err != nil {
		t.Fatalf("key %s: committed document %q: %v", key, b, err)
	}
	return seq
}

// runEngineCrashChild runs the child for delay after its first ack, kills it,
// and returns the acknowledged grants (in order) and the last acknowledged
// release number of each key.
func runEngineCrashChild(t *testing.T, dir string, delay time.Duration) (map[string][]int64, map[string]int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEngineCrashChild$")
	cmd.Env = append(os.Environ(), engineCrashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	grants := make(map[string][]int64)
	releases := make(map[string]int)
	first, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		started := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 {
				continue
			}
			n, _ := strconv.ParseInt(f[2], 10, 64)
			switch f[0] {
			case "grant":
				grants[f[1]] = append(grants[f[1]], n)
			case "release":
				releases[f[1]] = int(n)
			}
			if !started {
				started = true
				close(first)
			}
		}
	}()
	select {
	case <-first:
	case <-done:
	case <-time.After(20 * time.Second):
	}
	time.Sleep(delay)
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child did not die by SIGKILL")
	}
	return grants, releases
}

// TestEngineCrashChild is the process TestEngineCrash kills: one worker per
// key runs cycles and prints "grant <key> <token>" once an acquire returned
// and "release <key> <seq>" once the release committing document seq did.
func TestEngineCrashChild(t *testing.T) {
	dir := os.Getenv(engineCrashDirEnv)
	if dir == "" {
		t.Skip("run by TestEngineCrash")
	}
	ctx := context.Background()
	e := openDiskEngine(t, dir)
	for k := range engineCrashKeys {
		go func(key string) {
			seq := committedSeqChild(e, key)
			for {
				a, err := e.Acquire(ctx, AcquireRequest{Namespace: "crash", Key: key, Owner: "child", BlockSeconds: -1})
				if err != nil {
					panic(err)
				}
				os.Stdout.WriteString("grant " + key + " " + strconv.FormatInt(a.FencingToken, 10) + "\n")
				ref := LeaseRef{Namespace: "crash", Key: key, LeaseID: a.LeaseID, FencingToken: a.FencingToken, TxnID: a.TxnID}
				seq++
				doc := fmt.Sprintf(`{"seq":%d,"pad":"%s"}`, seq, strings.Repeat("x", 1000))
				if _, err := e.Update(ctx, UpdateRequest{LeaseRef: ref, Body: strings.NewReader(doc), MaxBytes: 1 << 20, ExpectedBytes: -1}); err != nil {
					panic(err)
				}
				if err := e.Release(ctx, ref, false); err != nil {
					panic(err)
				}
				os.Stdout.WriteString("release " + key + " " + strconv.Itoa(seq) + "\n")
			}
		}("k" + strconv.Itoa(k))
	}
	select {}
}

func committedSeqChild(e *Engine, key string) int {
	g, err := e.Get(context.Background(), "crash", key, nil)
	if err != nil || g.Body == nil {
		return 0
	}
	defer g.Body.Close()
	b, _ := io.ReadAll(g.Body)
	var seq int
	fmt.Sscanf(string(b), `{"seq":%d`, &seq)
	return seq
}

// TestCrashLosingAnAppendedGrant: a grant on a free key is acknowledged
// before it is durable. A crash that loses it (here: reopening a copy of
// the files taken before it) must not let its token be issued again, and
// must not let any lease survive.
func TestCrashLosingAnAppendedGrant(t *testing.T) {
	ctx := context.Background()
	dir, image := t.TempDir(), t.TempDir()
	e := openDiskEngine(t, dir)
	acquire := func(e *Engine) AcquireResult {
		t.Helper()
		a, err := e.Acquire(ctx, AcquireRequest{Namespace: "n", Key: "k", Owner: "o", BlockSeconds: -1})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := acquire(e) // first grant of the key: durable
	if err := e.Release(ctx, LeaseRef{Namespace: "n", Key: "k", LeaseID: a.LeaseID, FencingToken: a.FencingToken, TxnID: a.TxnID}, false); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(image, os.DirFS(dir)); err != nil { // the durable state
		t.Fatal(err)
	}
	lost := acquire(e) // appended, acknowledged, lost with the crash
	if lost.FencingToken != a.FencingToken+1 {
		t.Fatalf("second grant token %d, want %d", lost.FencingToken, a.FencingToken+1)
	}
	e.Close()

	e = openDiskEngine(t, image)
	defer e.Close()
	if n := e.ActiveLeases(); n != 0 {
		t.Fatalf("%d leases survived the crash", n)
	}
	if next := acquire(e); next.FencingToken <= lost.FencingToken {
		t.Fatalf("token %d granted after a crash that lost the acknowledged grant %d", next.FencingToken, lost.FencingToken)
	}
}

// openDiskEngine opens an engine on the disk store in dir (recovering it
// after a crash). The caller closes it.
func openDiskEngine(t *testing.T, dir string) *Engine {
	t.Helper()
	st, err := storage.OpenDisk(context.Background(), dir, storage.DiskOptions{})
	if err != nil {
		t.Fatalf("open disk store: %v", err)
	}
	e, err := Open(context.Background(), st, Options{})
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	return e
}
