package query

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// model is the obvious set the bitmap must behave like.
type model map[uint32]bool

func (m model) sorted() []uint32 {
	out := make([]uint32, 0, len(m))
	for x := range m {
		out = append(out, x)
	}
	slices.Sort(out)
	return out
}

func contents(b *bitmap) []uint32 {
	out := []uint32{}
	b.each(func(x uint32) bool { out = append(out, x); return true })
	return out
}

func TestBitmapMatchesModel(t *testing.T) {
	// Ranges chosen so containers cross the sparse/dense threshold both
	// ways and ids span several containers.
	for _, tc := range []struct {
		name    string
		span    uint32
		ops     int
		removes int // out of 10
	}{
		{"sparse", 1 << 20, 3000, 3},
		{"dense", 20000, 60000, 3},
		{"churn", 70000, 80000, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tc.span)))
			a, b := newBitmap(), newBitmap()
			ma, mb := model{}, model{}
			for range tc.ops {
				x := r.Uint32N(tc.span)
				bm, m := a, ma
				if r.IntN(2) == 0 {
					bm, m = b, mb
				}
				if r.IntN(10) < tc.removes {
					if got := bm.remove(x); got != m[x] {
						t.Fatalf("remove(%d) = %v, want %v", x, got, m[x])
					}
					delete(m, x)
				} else {
					if got := bm.add(x); got == m[x] {
						t.Fatalf("add(%d) = %v, want %v", x, got, !m[x])
					}
					m[x] = true
				}
			}
			check := func(name string, got *bitmap, want model) {
				t.Helper()
				if !slices.Equal(contents(got), want.sorted()) || got.card() != len(want) {
					t.Fatalf("%s: got %d ids, want %d", name, got.card(), len(want))
				}
				for x := range want {
					if !got.has(x) {
						t.Fatalf("%s: missing %d", name, x)
					}
				}
			}
			check("a", a, ma)
			check("b", b, mb)
			inter, union, diff := model{}, model{}, model{}
			for x := range ma {
				union[x] = true
				if mb[x] {
					inter[x] = true
				} else {
					diff[x] = true
				}
			}
			for x := range mb {
				union[x] = true
			}
			check("and", and(a, b), inter)
			check("or", or(a, b), union)
			check("andNot", andNot(a, b), diff)
			check("orAll", orAll([]*bitmap{a, b, newBitmap()}), union)
			// Operands are untouched by the operations.
			check("a after ops", a, ma)
			check("b after ops", b, mb)
		})
	}
}

func TestBitmapNilIsEmpty(t *testing.T) {
	var nb *bitmap
	if !nb.empty() || nb.card() != 0 || nb.has(1) {
		t.Fatal("nil bitmap is not empty")
	}
	one := newBitmap()
	one.add(5)
	if got := contents(or(nb, one)); !slices.Equal(got, []uint32{5}) {
		t.Fatalf("or(nil, {5}) = %v", got)
	}
	if !and(nb, one).empty() || !andNot(nb, one).empty() {
		t.Fatal("and/andNot with nil not empty")
	}
	if got := contents(andNot(one, nb)); !slices.Equal(got, []uint32{5}) {
		t.Fatalf("andNot({5}, nil) = %v", got)
	}
}
