package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/lql"
)

func mustSel(t testing.TB, expr string) lql.Selector {
	t.Helper()
	s, err := lql.ParseSelectorString(expr)
	if err != nil {
		t.Fatalf("parse %q: %v", expr, err)
	}
	return s
}

func errCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.ErrorCode
	}
	return ""
}

func TestEngineChoice(t *testing.T) {
	for _, tc := range []struct {
		preferred, fallback, requested string
		want, wantErr                  string
	}{
		{"", "", "", api.EngineIndex, ""}, // lockd default: index/none
		{"index", "none", "auto", api.EngineIndex, ""},
		{"index", "none", "index", api.EngineIndex, ""},
		{"index", "none", "scan", "", api.ErrCodeQueryEngineUnavailable},
		{"index", "scan", "scan", api.EngineScan, ""},
		{"scan", "none", "auto", api.EngineScan, ""},
		{"scan", "none", "index", "", api.ErrCodeQueryEngineUnavailable},
		{"scan", "scan", "SCAN", api.EngineScan, ""},
		{"index", "none", "fast", "", api.ErrCodeInvalidEngine},
	} {
		name := fmt.Sprintf("%s/%s/%s", tc.preferred, tc.fallback, tc.requested)
		t.Run(name, func(t *testing.T) {
			s := newMemStore("ns")
			s.cfg = api.NamespaceQueryConfig{PreferredEngine: tc.preferred, FallbackEngine: tc.fallback}
			res, err := s.m.Query(context.Background(), Request{Namespace: "ns", Engine: tc.requested}, func(Row) error { return nil })
			if got := errCode(err); got != tc.wantErr {
				t.Fatalf("error code %q (%v), want %q", got, err, tc.wantErr)
			}
			if err == nil && res.Engine != tc.want {
				t.Fatalf("engine %q, want %q", res.Engine, tc.want)
			}
		})
	}
}

func TestRequestValidation(t *testing.T) {
	s := newMemStore("ns")
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"bad cursor", Request{Cursor: "!!"}, api.ErrCodeInvalidCursor},
		{"foreign cursor", Request{Cursor: "eHl6"}, api.ErrCodeInvalidCursor},
		{"field without slash", Request{Selector: lql.Selector{Eq: &lql.Term{Field: "status", Value: "x"}}}, api.ErrCodeInvalidSelector},
		{"root projection", Request{Fields: []string{"/"}}, api.ErrCodeInvalidFields},
		{"projection conflict", Request{Fields: []string{"/meta", "/meta/trace"}}, api.ErrCodeInvalidFields},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.m.Query(context.Background(), tc.req, func(Row) error { return nil })
			if got := errCode(err); got != tc.want {
				t.Fatalf("error code %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, key := range []string{"a", "orders/123", "ü/~x", ""} {
		got, err := DecodeCursor(EncodeCursor(key))
		if err != nil || got != key {
			t.Fatalf("DecodeCursor(EncodeCursor(%q)) = %q, %v", key, got, err)
		}
	}
}

// TestHiddenKeys: hidden keys are indexed but never returned, by either
// engine, and flipping the flag is picked up on the next commit.
func TestHiddenKeys(t *testing.T) {
	ctx := context.Background()
	s := newMemStore("ns")
	s.commit("a", []byte(`{"status":"open"}`), false)
	s.commit("b", []byte(`{"status":"open"}`), true)
	s.commit("c", []byte(`"scalar"`), true)
	for _, engine := range []string{api.EngineIndex, api.EngineScan} {
		for _, expr := range []string{"", "/status=open", "not.eq{field=/status,value=closed}"} {
			got, _, err := s.queryAll(ctx, Request{Namespace: "ns", Selector: mustSel(t, expr), Engine: engine, WaitFor: true})
			if err != nil || !slices.Equal(got, []string{"a"}) {
				t.Fatalf("%s %q: got %v, %v; want [a]", engine, expr, got, err)
			}
		}
	}
	s.commit("b", []byte(`{"status":"open"}`), false)
	got, _, _ := s.queryAll(ctx, Request{Namespace: "ns", Selector: mustSel(t, "/status=open"), WaitFor: true})
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after unhiding b: %v", got)
	}
}

// TestWaitForSeesEveryAcknowledgedCommit commits and immediately queries
// with wait_for, many times over, while a writer keeps the applier busy.
func TestWaitForSeesEveryAcknowledgedCommit(t *testing.T) {
	ctx := context.Background()
	s := newMemStore("ns")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s.commit(fmt.Sprintf("noise%04d", i%500), []byte(`{"status":"noise","n":1}`), false)
		}
	})
	for i := range 150 {
		key := fmt.Sprintf("k%04d", i)
		seq := s.commit(key, fmt.Appendf(nil, `{"status":"open","n":%d}`, i), false)
		var got []string
		res, err := s.m.Query(ctx, Request{Namespace: "ns", Selector: mustSel(t, fmt.Sprintf("/n=%d,/status=open", i)), WaitFor: true},
			func(r Row) error { got = append(got, r.Key); return nil })
		if err != nil || !slices.Equal(got, []string{key}) {
			t.Fatalf("commit %d: got %v, %v", i, got, err)
		}
		if res.IndexSeq < seq {
			t.Fatalf("index_seq %d < committed seq %d", res.IndexSeq, seq)
		}
	}
	close(stop)
	wg.Wait()
}

// TestPaginationUnderConcurrentWrites pages through a namespace while
// writers add, update and delete other keys: every key that exists and
// matches throughout is returned exactly once, in order. The index engine
// runs both collecting every candidate and walking the key order.
func TestPaginationUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, engine   string
		walkMin, limit int
	}{
		{"index", api.EngineIndex, defaultWalkMin, 37},
		{"index-walk", api.EngineIndex, 0, 37},
		{"index-walk-short-pages", api.EngineIndex, 0, 3},
		{"scan", api.EngineScan, defaultWalkMin, 37},
	} {
		engine := tc.engine
		t.Run(tc.name, func(t *testing.T) {
			s := newMemStore("ns")
			s.m.Index("ns").setWalkMin(tc.walkMin)
			var stable []string
			for i := range 600 {
				key := fmt.Sprintf("s%04d", i*3)
				stable = append(stable, key)
				s.commit(key, []byte(`{"kind":"stable","tags":["keep"]}`), false)
			}
			if _, err := s.m.Index("ns").Flush(ctx); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 2 {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(w), 3))
					for {
						select {
						case <-stop:
							return
						default:
						}
						// Volatile keys interleave with the stable ones.
						key := fmt.Sprintf("s%04d", r.IntN(1800)*3+1+r.IntN(2))
						if r.IntN(3) == 0 {
							s.remove(key)
						} else {
							s.commit(key, []byte(`{"kind":"volatile","tags":["keep"]}`), false)
						}
						// Stable keys are rewritten with the same content.
						k := stable[r.IntN(len(stable))]
						s.commit(k, []byte(`{"kind":"stable","tags":["keep"]}`), false)
					}
				})
			}
			var got []string
			req := Request{Namespace: "ns", Selector: mustSel(t, `in{field=/tags[],any=keep}`), Limit: tc.limit, Engine: engine}
			for {
				res, err := s.m.Query(ctx, req, func(r Row) error { got = append(got, r.Key); return nil })
				if err != nil {
					t.Fatal(err)
				}
				if res.Cursor == "" {
					break
				}
				req.Cursor = res.Cursor
			}
			close(stop)
			wg.Wait()
			if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Fatalf("pages are not strictly increasing")
			}
			for _, k := range stable {
				if _, ok := slices.BinarySearch(got, k); !ok {
					t.Fatalf("stable key %s skipped", k)
				}
			}
		})
	}
}

// TestUpdatesAndDeletesStayExact churns a corpus (updates replace every
// posting of a key, deletes free ids that are then reused) and compares
// with the oracle again, collecting candidates and walking the key order.
func TestUpdatesAndDeletesStayExact(t *testing.T) {
	ctx := context.Background()
	s, _ := buildCorpus(t, 1500, 11)
	r := rand.New(rand.NewPCG(5, 5))
	keys := slices.Clone(s.keys)
	for i := range 3000 {
		key := keys[r.IntN(len(keys))]
		switch r.IntN(4) {
		case 0:
			s.remove(key)
		default:
			s.commit(key, []byte(genDoc(r, i)), r.IntN(20) == 0)
		}
	}
	o := &oracle{}
	for _, k := range s.keys {
		d := s.docs[k]
		v, err := decodeNumbers(d.body)
		if err != nil {
			t.Fatal(err)
		}
		o.keys, o.decoded, o.hidden = append(o.keys, k), append(o.decoded, v), append(o.hidden, d.hidden)
	}
	n := 800
	if testing.Short() {
		n = 200
	}
	for i := range n {
		sel := genSelector(r, 2)
		if sel.Validate() != nil {
			continue
		}
		want := o.answer(sel)
		for _, walkMin := range []int{defaultWalkMin, 0} {
			s.m.Index("corpus").setWalkMin(walkMin)
			got, _, err := s.queryAll(ctx, Request{Namespace: "corpus", Selector: sel, Limit: 1000, WaitFor: true})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("selector %d, walkMin %d: index gave %d keys, oracle %d", i, walkMin, len(got), len(want))
			}
		}
	}
}

// TestUnreadableDocumentsAreVerified: when the applier cannot read a
// document (its blob was already superseded and reclaimed), the key is
// verified at query time against the current committed document.
func TestUnreadableDocumentsAreVerified(t *testing.T) {
	ctx := context.Background()
	s := newMemStore("ns")
	s.commit("a", []byte(`{"status":"open"}`), false)
	ix := s.m.Index("ns")
	if err := ix.WaitFor(ctx, ix.Submit(Change{Key: "a", Version: 2, Open: func() (io.ReadCloser, error) {
		return nil, errors.New("blob reclaimed")
	}})); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.queryAll(ctx, Request{Namespace: "ns", Selector: mustSel(t, "/status=open")})
	if err != nil || !slices.Equal(got, []string{"a"}) {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestDocumentsModeAndProjection(t *testing.T) {
	ctx := context.Background()
	s := newMemStore("ns")
	s.commit("a", []byte(`{"id":"a","meta":{"trace":9,"ignore":1},"items":[{"sku":"A"},{"sku":"B"}],"payload":"x"}`), false)
	s.commit("b", []byte(`{"id":"b","n":42.0}`), false)
	for _, tc := range []struct {
		name   string
		fields []string
		want   []string
	}{
		{"whole", nil, []string{
			`{"id":"a","meta":{"trace":9,"ignore":1},"items":[{"sku":"A"},{"sku":"B"}],"payload":"x"}`,
			`{"id":"b","n":42.0}`}},
		{"projected", []string{"/id", "/meta/trace", "/items/1/sku"}, []string{
			`{"id":"a","items":[null,{"sku":"B"}],"meta":{"trace":9}}`,
			`{"id":"b"}`}},
	} {
		for _, engine := range []string{api.EngineIndex, api.EngineScan} {
			var rows []Row
			_, err := s.m.Query(ctx, Request{Namespace: "ns", Documents: true, Fields: tc.fields, Engine: engine, WaitFor: true},
				func(r Row) error { rows = append(rows, r); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 {
				t.Fatalf("%s/%s: %d rows", tc.name, engine, len(rows))
			}
			for i, r := range rows {
				if string(r.Doc) != tc.want[i] || r.Version != 1 {
					t.Fatalf("%s/%s row %d: %s v%d, want %s v1", tc.name, engine, i, r.Doc, r.Version, tc.want[i])
				}
			}
		}
	}
}

func TestMetadataAndCursor(t *testing.T) {
	ctx := context.Background()
	s := newMemStore("ns")
	for i := range 5 {
		s.commit(fmt.Sprintf("k%d", i), []byte(`{"status":"open"}`), false)
	}
	res, err := s.m.Query(ctx, Request{Namespace: "ns", Selector: mustSel(t, "/status=open"), Limit: 5, WaitFor: true},
		func(Row) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.Cursor != "" {
		t.Fatalf("cursor %q on a complete page", res.Cursor)
	}
	if res.IndexSeq != 5 || res.Metadata["engine"] != "index" || res.Metadata["index_pending"] != "false" ||
		res.Metadata["query_candidates_matched"] != "5" || res.Metadata["index_updated_at"] == "" {
		t.Fatalf("result %+v", res)
	}
	res, _ = s.m.Query(ctx, Request{Namespace: "ns", Limit: 2}, func(Row) error { return nil })
	if k, _ := DecodeCursor(res.Cursor); k != "k1" {
		t.Fatalf("cursor resumes after %q, want k1", k)
	}
}
