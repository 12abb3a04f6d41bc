package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/lql"
)

// benchDoc returns a ≈1 KiB document of the shape agents store: status,
// a tags array, a project drawn from 1000 values, numbers, dates, a nested
// owner and a text body.
func benchDoc(r *rand.Rand, i int) []byte {
	tags := make([]string, 1+r.IntN(4))
	for j := range tags {
		tags[j] = fmt.Sprintf("t-%d", r.IntN(2000))
	}
	var body strings.Builder
	for body.Len() < 700 {
		body.WriteString(pick(r, []string{"alpha ", "beta ", "gamma ", "delta ", "memory ", "task ", "review ", "deploy ", "incident ", "notes "}))
	}
	doc := map[string]any{
		"id":       fmt.Sprintf("doc-%06d", i),
		"status":   pick(r, []string{"open", "closed", "pending", "blocked", "done"}),
		"project":  fmt.Sprintf("p-%d", r.IntN(1000)),
		"tags":     tags,
		"priority": r.IntN(5) + 1,
		"score":    r.Float64() * 100,
		"created":  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(365*24)) * time.Hour).Format(time.RFC3339),
		"owner":    map[string]any{"name": fmt.Sprintf("user-%d", r.IntN(500)), "team": pick(r, []string{"core", "ops", "infra"})},
		"body":     body.String(),
	}
	b, _ := json.Marshal(doc)
	return b
}

func benchStore(b *testing.B, n int) *memStore {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := rand.New(rand.NewPCG(42, 42))
	s := newMemStore("bench")
	s.cfg = api.NamespaceQueryConfig{PreferredEngine: api.EngineIndex, FallbackEngine: api.EngineScan}
	for i := range n {
		s.commit(fmt.Sprintf("key-%07d", i), benchDoc(r, i), false)
	}
	if _, err := s.m.Index("bench").Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	var docBytes int
	for _, d := range s.docs {
		docBytes += len(d.body)
	}
	b.Logf("%d docs, %.0f bytes/doc; heap for documents+index %.1f MiB (documents alone %.1f MiB)",
		n, float64(docBytes)/float64(n), float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), float64(docBytes)/(1<<20))
	return s
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkQuery100k measures, on 100,000 ≈1 KiB documents: selective
// eq/in queries through the index (limit 100, in-process), a full
// icontains scan over every document, and the cost of indexing one write.
func BenchmarkQuery100k(b *testing.B) {
	const n = 100_000
	s := benchStore(b, n)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	selective := []struct {
		name string
		sel  func() lql.Selector
	}{
		{"eq", func() lql.Selector {
			return lql.Selector{Eq: &lql.Term{Field: "/project", Value: fmt.Sprintf("p-%d", r.IntN(1000)), ValueSet: true}}
		}},
		{"in", func() lql.Selector {
			return lql.Selector{In: &lql.InTerm{Field: "/tags[]", Any: []string{fmt.Sprintf("t-%d", r.IntN(2000)), fmt.Sprintf("t-%d", r.IntN(2000))}}}
		}},
		{"eq+in", func() lql.Selector {
			return lql.Selector{And: []lql.Selector{
				{Eq: &lql.Term{Field: "/status", Value: "open", ValueSet: true}},
				{In: &lql.InTerm{Field: "/owner/name", Any: []string{fmt.Sprintf("user-%d", r.IntN(500)), fmt.Sprintf("user-%d", r.IntN(500))}}},
			}}
		}},
	}
	for _, q := range selective {
		for _, docs := range []bool{false, true} {
			name := q.name + "/keys"
			if docs {
				name = q.name + "/documents"
			}
			b.Run(name, func(b *testing.B) {
				var lat []time.Duration
				rows := 0
				for b.Loop() {
					start := time.Now()
					_, err := s.m.Query(ctx, Request{Namespace: "bench", Selector: q.sel(), Limit: 100, Documents: docs},
						func(Row) error { rows++; return nil })
					lat = append(lat, time.Since(start))
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
				reportPercentiles(b, lat)
			})
		}
	}
	b.Run("icontains-scan", func(b *testing.B) {
		sel := mustSel(b, "icontains{field=/...,value=NEEDLE-NOT-PRESENT}")
		var scanned int
		start := time.Now()
		for b.Loop() {
			_, err := s.m.Query(ctx, Request{Namespace: "bench", Selector: sel, Limit: 100, Engine: api.EngineScan},
				func(Row) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			scanned += n
		}
		b.ReportMetric(float64(scanned)/time.Since(start).Seconds(), "docs/s")
	})
	b.Run("index-put", func(b *testing.B) {
		ix := s.m.Index("bench")
		docs := make([][]byte, 1024)
		for i := range docs {
			docs[i] = benchDoc(r, i)
		}
		var seq uint64
		i := 0
		for b.Loop() {
			// Updates of existing keys: old postings out, new ones in.
			seq = ix.Submit(Change{Key: fmt.Sprintf("key-%07d", r.IntN(n)), Version: 2, Doc: docs[i%len(docs)]})
			i++
		}
		if err := ix.WaitFor(ctx, seq); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkApplyChangingDoc prices the applier on the server's cycle
// benchmark document (≈40 {"n","s"} items, read through Open like a
// committed blob), changed on every commit of 8 keys: the per-commit cost
// that issue 5 bounds.
func BenchmarkApplyChangingDoc(b *testing.B) {
	var base strings.Builder
	base.WriteString(`{"owner":"bench","items":[`)
	for i := 0; base.Len() < 1000; i++ {
		if i > 0 {
			base.WriteByte(',')
		}
		fmt.Fprintf(&base, `{"n":%d,"s":"item-%04d"}`, i, i)
	}
	base.WriteString(`]`)
	ix := NewIndex()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		doc := []byte(fmt.Sprintf(`%s,"v":%d}`, base.String(), i))
		ix.Submit(Change{Key: fmt.Sprint("c", i%8), Version: int64(i), ETag: fmt.Sprint(i),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(doc)), nil }})
		if i%8 == 7 {
			if _, err := ix.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkCandidates prices one page's candidates on 100,000 keys, by
// collecting every candidate (collect) or walking the key order (walk),
// for selectors of 1/k of the keys: "/r<k>=0" picks keys at random,
// "/c<k>=1" the first 1/k of the key range (the cursor sits before it) and
// "/c<k>=<k-1>" its last 1/k (the walk crosses every key first). This is
// what defaultWalkMin and the walk's budget are set from.
func BenchmarkCandidates(b *testing.B) {
	const n = 100_000
	ks := []int{2, 8, 16, 32, 64, 128, 512}
	ix := NewIndex()
	r := rand.New(rand.NewPCG(4, 4))
	var seq uint64
	for i := range n {
		var doc strings.Builder
		doc.WriteString("{")
		for j, k := range ks {
			if j > 0 {
				doc.WriteString(",")
			}
			fmt.Fprintf(&doc, `"r%d":%d,"c%d":%d`, k, r.IntN(k), k, i*k/n)
		}
		doc.WriteString("}")
		seq = ix.Submit(Change{Key: fmt.Sprintf("key-%07d", i), Version: 1, Doc: []byte(doc.String())})
	}
	if err := ix.WaitFor(context.Background(), seq); err != nil {
		b.Fatal(err)
	}
	for _, k := range ks {
		for _, q := range []struct{ name, expr string }{
			{"random", fmt.Sprintf("/r%d=0", k)},
			{"first", fmt.Sprintf("/c%d=0", k)},
			{"last", fmt.Sprintf("/c%d=%d", k, k-1)},
		} {
			sel := lql.Simplify(mustSel(b, q.expr))
			for _, mode := range []struct {
				name    string
				walkMin int
			}{{"collect", math.MaxInt}, {"walk", 0}} {
				b.Run(fmt.Sprintf("%s/n=%d/%s", q.name, n/k, mode.name), func(b *testing.B) {
					ix.walkMin = mode.walkMin
					defer func() { ix.walkMin = defaultWalkMin }()
					for b.Loop() {
						h, _ := ix.candidates(&sel, "", 126)
						for range min(100, len(h)) {
							_, h = popMin(h)
						}
					}
				})
			}
		}
	}
}
