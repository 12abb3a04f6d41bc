package storage

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var crashRounds = flag.Int("storage.crash-rounds", 10, "rounds of TestDiskCrash (SIGKILL of a committing process)")

const (
	crashDirEnv   = "LOCKD_STORAGE_CRASH_DIR"
	crashCkptEnv  = "LOCKD_STORAGE_CRASH_CHECKPOINT_BYTES"
	crashWorkers  = 4
	crashSlotNS   = "slot" // slot/<g>: "<seq> <blob id> <blob size>" of worker g's last batch
	crashSeqNS    = "seq"  // seq/<s>/{a,b,c}: "<g>", the three records of batch s
	crashLiveNS   = "live" // live/<g>/<s>: exactly one per worker, moved by each batch
	crashAckWords = 3      // "ack <g> <s>"
)

// crashBlob is the blob of batch s: mostly 1 KiB-ish (in the log), some
// large (own file), some empty.
func crashBlob(s int) []byte {
	switch {
	case s%13 == 0:
		return nil
	case s%11 == 0:
		return pattern(s, 100<<10)
	default:
		return pattern(s, 1000+s%500)
	}
}

// TestDiskCrash SIGKILLs a process that commits from several goroutines at
// a random moment, then checks the paragraph in doc.go: every acknowledged
// commit is there, no batch is torn, each worker's commits form a prefix.
// Odd rounds use a tiny checkpoint trigger so kills land during checkpoints.
func TestDiskCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop skipped in -short mode")
	}
	dir := t.TempDir()
	var ckpts int
	for round := range *crashRounds {
		ckptBytes := int64(DefaultCheckpointBytes)
		if round%2 == 1 {
			ckptBytes = 16 << 10
		}
		acks, n := runCrashChild(t, dir, ckptBytes, time.Duration(5+rand.IntN(150))*time.Millisecond)
		ckpts += n
		checkCrashState(t, dir, round, acks)
	}
	t.Logf("%d checkpoints completed across %d rounds", ckpts, *crashRounds)
	if *crashRounds > 1 && ckpts == 0 {
		t.Errorf("no checkpoint ran during the crash rounds; the compaction path went untested")
	}
}

// runCrashChild runs the child until it has acknowledged commits, lets it go
// on for delay, SIGKILLs it, and returns the acknowledged seqs by worker and
// the number of checkpoints it reported.
func runCrashChild(t *testing.T, dir string, ckptBytes int64, delay time.Duration) (map[int][]int, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskCrashChild$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashCkptEnv+"="+strconv.FormatInt(ckptBytes, 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acks := make(map[int][]int)
	var ckpts int
	first := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var once sync.Once
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == crashAckWords && f[0] == "ack":
				g, _ := strconv.Atoi(f[1])
				s, _ := strconv.Atoi(f[2])
				acks[g] = append(acks[g], s)
				once.Do(func() { close(first) })
			case len(f) == 1 && f[0] == "checkpoint":
				ckpts++
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
	<-done // the pipe keeps every line written before the kill
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child did not die by SIGKILL (%v); stderr:\n%s", err, stderr.String())
	}
	if len(acks) == 0 {
		t.Fatalf("child acknowledged nothing; stderr:\n%s", stderr.String())
	}
	return acks, ckpts
}

func checkCrashState(t *testing.T, dir string, round int, acks map[int][]int) {
	t.Helper()
	d, err := OpenDisk(context.Background(), dir, DiskOptions{})
	if err != nil {
		t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
	}
	defer d.Close()
	recs := loadAll(t, d)
	parts := make(map[int]int)    // seq -> records of its batch present
	workerOf := make(map[int]int) // seq -> worker
	maxSeq := make(map[int]int)   // worker -> highest seq present
	for k, v := range recs {
		if k.Namespace != crashSeqNS {
			continue
		}
		s, _ := strconv.Atoi(strings.Split(k.Key, "/")[0])
		g, _ := strconv.Atoi(v)
		parts[s]++
		workerOf[s] = g
		maxSeq[g] = max(maxSeq[g], s)
	}
	for s, n := range parts {
		if n != 3 {
			t.Fatalf("round %d: batch %d is torn: %d of its 3 records present", round, s, n)
		}
	}
	total := 0
	for g, seqs := range acks {
		for _, s := range seqs {
			if parts[s] != 3 || workerOf[s] != g {
				t.Fatalf("round %d: acknowledged commit %d of worker %d lost", round, s, g)
			}
			total++
		}
	}
	var live []BlobRef
	for g := range maxSeq {
		slot, ok := recs[rk(crashSlotNS, strconv.Itoa(g))]
		var s int
		var ref BlobRef
		if _, err := fmt.Sscan(slot, &s, &ref.ID, &ref.Size); !ok || err != nil {
			t.Fatalf("round %d: worker %d slot %q unreadable (present %v): %v", round, g, slot, ok, err)
		}
		if s != maxSeq[g] {
			t.Fatalf("round %d: worker %d slot says batch %d, newest batch present is %d: not a prefix", round, g, s, maxSeq[g])
		}
		var lives []string
		for k := range recs {
			if k.Namespace == crashLiveNS && strings.HasPrefix(k.Key, strconv.Itoa(g)+"/") {
				lives = append(lives, k.Key)
			}
		}
		if len(lives) != 1 || lives[0] != fmt.Sprintf("%d/%d", g, s) {
			t.Fatalf("round %d: worker %d live records %v, want only %d/%d", round, g, lives, g, s)
		}
		got, err := readBlob(d, ref)
		if err != nil || !bytes.Equal(got, crashBlob(s)) {
			t.Fatalf("round %d: worker %d blob of batch %d: %d bytes, err %v", round, g, s, len(got), err)
		}
		live = append(live, ref)
	}
	err = d.Retain(context.Background(), func(r BlobRef) bool {
		for _, l := range live {
			if l.ID == r.ID {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatalf("round %d: Retain: %v", round, err)
	}
	t.Logf("round %d: %d acknowledged commits survived, %d batches on disk", round, total, len(parts))
}

// TestDiskCrashChild is the process TestDiskCrash kills. It continues where
// the previous round's state stops, commits until killed, and prints
// "ack <worker> <seq>" only after Commit returned.
func TestDiskCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestDiskCrash")
	}
	ckpt, _ := strconv.ParseInt(os.Getenv(crashCkptEnv), 10, 64)
	ctx := context.Background()
	d, err := OpenDisk(ctx, dir, DiskOptions{CheckpointBytes: ckpt})
	if err != nil {
		t.Fatalf("child open: %v", err)
	}
	var next atomic.Int64
	type slot struct {
		seq int
		ref BlobRef
	}
	slots := make(map[int]slot)
	err = d.Load(ctx, func(r Record) error {
		switch r.Namespace {
		case crashSeqNS:
			s, _ := strconv.Atoi(strings.Split(r.Key, "/")[0])
			if int64(s) > next.Load() {
				next.Store(int64(s))
			}
		case crashSlotNS:
			g, _ := strconv.Atoi(r.Key)
			var sl slot
			fmt.Sscan(string(r.Value), &sl.seq, &sl.ref.ID, &sl.ref.Size)
			slots[g] = sl
		}
		return nil
	})
	if err != nil {
		t.Fatalf("child load: %v", err)
	}
	go func() {
		var seen int64
		for {
			time.Sleep(2 * time.Millisecond)
			if n := d.checkpoints.Load(); n > seen {
				seen = n
				os.Stdout.WriteString("checkpoint\n")
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range crashWorkers {
		wg.Add(1)
		go func(prev slot) {
			defer wg.Done()
			for {
				s := int(next.Add(1))
				ref, err := d.WriteBlob(ctx, bytes.NewReader(crashBlob(s)))
				if err != nil {
					panic(err)
				}
				gs, ss := strconv.Itoa(g), strconv.Itoa(s)
				b := Batch{
					Puts: []Record{
						put(crashSeqNS, ss+"/a", gs), put(crashSeqNS, ss+"/b", gs), put(crashSeqNS, ss+"/c", gs),
						put(crashSlotNS, gs, fmt.Sprint(s, " ", ref.ID, " ", ref.Size)),
						put(crashLiveNS, gs+"/"+ss, ""),
					},
				}
				if prev.ref.ID != "" {
					b.Deletes = []RecordKey{rk(crashLiveNS, gs+"/"+strconv.Itoa(prev.seq))}
					b.Free = []BlobRef{prev.ref}
				}
				if err := d.Commit(ctx, b); err != nil {
					panic(err)
				}
				os.Stdout.WriteString("ack " + gs + " " + ss + "\n")
				prev = slot{seq: s, ref: ref}
			}
		}(slots[g])
	}
	wg.Wait()
}
