package lql

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/internal/heapwatch"
)

const benchSelector = `/status="open",/progress>=10,icontains{field=/notes/body,value=renewal}`

func BenchmarkParseSelector(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSelectorString(benchSelector); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDoc2K is a ~2 KiB document that satisfies benchSelector.
func benchDoc2K() string {
	var sb strings.Builder
	sb.WriteString(`{"status":"open","progress":42,"owner":"alice","notes":{"body":"Contract RENEWAL due in March","author":"bob"},"items":[`)
	for i := 0; sb.Len() < 1900; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"sku":"SKU-%04d","price":%d.5,"tags":["a","b"]}`, i, i)
	}
	sb.WriteString(`],"region":"eu-north-1"}`)
	return sb.String()
}

func BenchmarkMatches2KiB(b *testing.B) {
	sel, err := ParseSelectorString(benchSelector)
	if err != nil {
		b.Fatal(err)
	}
	doc := decodeDoc(b, benchDoc2K())
	if !Matches(sel, doc) {
		b.Fatal("benchmark document does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		Matches(sel, doc)
	}
}

// docGenerator streams one large JSON object without holding it: a head,
// as many copies of record as fit in size, and a tail.
type docGenerator struct {
	parts  [][]byte
	record []byte
	left   int64 // bytes of records still to emit
	stage  int
	off    int
}

func newDocGenerator(size int64) *docGenerator {
	head := []byte(`{"status":"open","progress":42,"counter":7,"notes":{"body":"Contract RENEWAL due"},"items":[`)
	tail := []byte(`{"sku":"LAST","price":1}],"region":"eu"}`)
	record := []byte(`{"sku":"SKU-000123","price":1999.5,"qty":3,"tags":["alpha","beta"],"desc":"a \"quoted\" line\nwith escapes"},` + "\n")
	n := (size - int64(len(head)+len(tail))) / int64(len(record))
	return &docGenerator{parts: [][]byte{head, nil, tail}, record: record, left: n * int64(len(record))}
}

func (g *docGenerator) Size() int64 {
	return int64(len(g.parts[0])+len(g.parts[2])) + g.left
}

func (g *docGenerator) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		switch g.stage {
		case 1:
			if g.left == 0 {
				g.stage, g.off = 2, 0
				continue
			}
			c := copy(p[n:], g.record[g.off:])
			if int64(c) > g.left {
				c = int(g.left)
			}
			n += c
			g.left -= int64(c)
			g.off = (g.off + c) % len(g.record)
		case 0, 2:
			c := copy(p[n:], g.parts[g.stage][g.off:])
			n += c
			g.off += c
			if g.off == len(g.parts[g.stage]) {
				if g.stage == 2 {
					g.stage = 3
				} else {
					g.stage, g.off = 1, 0
				}
			}
		default:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
	}
	return n, nil
}

func BenchmarkQueryStream100MiB(b *testing.B) {
	sel, err := ParseSelectorString(benchSelector + `,not.eq{field=/items[]/sku,value=NOPE}`)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(newDocGenerator(100 << 20).Size())
	for b.Loop() {
		res, err := QueryStream(context.Background(), newDocGenerator(100<<20), sel, QueryOptions{})
		if err != nil || res.Matched != 1 {
			b.Fatalf("%+v %v", res, err)
		}
	}
}

func BenchmarkMutateStream1GiB(b *testing.B) {
	muts, err := ParseMutations([]string{
		"/status=done", "/counter++", "time:/updated=NOW", "/notes{/body=renewed,rm:/legacy}", "/items[]/qty=+1",
	}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	size := newDocGenerator(1 << 30).Size()
	b.SetBytes(size)
	var worst float64
	for b.Loop() {
		h := heapwatch.Start()
		res, err := MutateStream(context.Background(), newDocGenerator(1<<30), io.Discard, muts, MutateOptions{Mode: MutateSingleObject})
		if err != nil || res.Candidates != 1 {
			b.Fatalf("%+v %v", res, err)
		}
		worst = max(worst, h.StopMiB())
	}
	b.ReportMetric(worst, "peak-heap-MiB")
}

// TestMutateStreamGeneratedDoc checks the benchmark's generator and
// mutations on a small size so that the benchmark cannot rot.
func TestMutateStreamGeneratedDoc(t *testing.T) {
	muts, err := ParseMutations([]string{"/status=done", "/counter++", "/items[]/qty=+1"}, exampleNow)
	if err != nil {
		t.Fatal(err)
	}
	var src bytes.Buffer
	if _, err := io.Copy(&src, newDocGenerator(64<<10)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := MutateStream(t.Context(), bytes.NewReader(src.Bytes()), &out, muts, MutateOptions{Mode: MutateSingleObject}); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(src.Bytes(), &m); err != nil {
		t.Fatalf("generator output invalid: %v", err)
	}
	if err := ApplyMutations(m, muts); err != nil {
		t.Fatal(err)
	}
	got, _ := canonicalJSON(out.Bytes())
	want, _ := canonicalJSON(appendJSONValue(nil, m))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("stream and memory disagree on the generated document")
	}
}
