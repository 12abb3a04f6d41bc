package query

import (
	"math/bits"
	"slices"
)

// bitmap is a compressed set of uint32 key ids in the style of roaring
// bitmaps: ids are split by their high 16 bits into containers, and each
// container holds its low 16 bits either as a sorted []uint16 (sparse) or as
// a 65536-bit array (dense). Sparse containers make the many small postings
// of unique values cheap; dense ones keep the big postings (status=open over
// a third of the namespace) at 8 KiB per 65536 keys with O(1) updates, where
// a sorted slice would need a memmove per update.
//
// Set operations never modify their operands, so results computed under the
// index read lock may share containers with postings owned by the index for
// as long as that lock is held.
type bitmap struct {
	hi []uint16
	cs []*container
}

// arrayMax is the largest sparse container; beyond it the dense form is
// smaller (4096*2 bytes = 8 KiB, the size of the dense form).
const arrayMax = 4096

type container struct {
	arr  []uint16 // sorted; used when words == nil
	bits []uint64 // 1024 words when dense
	n    int
}

func newBitmap() *bitmap { return &bitmap{} }

func (b *bitmap) find(h uint16) (int, bool) {
	return slices.BinarySearch(b.hi, h)
}

// add inserts x and reports whether it was absent. It mutates b in place and
// is only used on postings owned by the index (under its write lock) and on
// freshly built accumulators.
func (b *bitmap) add(x uint32) bool {
	h, l := uint16(x>>16), uint16(x)
	i, ok := b.find(h)
	if !ok {
		b.hi = slices.Insert(b.hi, i, h)
		b.cs = slices.Insert(b.cs, i, &container{arr: []uint16{l}, n: 1})
		return true
	}
	return b.cs[i].add(l)
}

// remove deletes x and reports whether it was present.
func (b *bitmap) remove(x uint32) bool {
	h, l := uint16(x>>16), uint16(x)
	i, ok := b.find(h)
	if !ok {
		return false
	}
	c := b.cs[i]
	if !c.remove(l) {
		return false
	}
	if c.n == 0 {
		b.hi = slices.Delete(b.hi, i, i+1)
		b.cs = slices.Delete(b.cs, i, i+1)
	}
	return true
}

func (b *bitmap) has(x uint32) bool {
	if b == nil {
		return false
	}
	i, ok := b.find(uint16(x >> 16))
	return ok && b.cs[i].has(uint16(x))
}

func (b *bitmap) card() int {
	if b == nil {
		return 0
	}
	n := 0
	for _, c := range b.cs {
		n += c.n
	}
	return n
}

func (b *bitmap) empty() bool { return b == nil || len(b.cs) == 0 }

// each calls fn for every id in ascending order until fn returns false.
func (b *bitmap) each(fn func(uint32) bool) {
	if b == nil {
		return
	}
	for i, c := range b.cs {
		base := uint32(b.hi[i]) << 16
		if c.bits == nil {
			for _, l := range c.arr {
				if !fn(base | uint32(l)) {
					return
				}
			}
			continue
		}
		for w, word := range c.bits {
			for word != 0 {
				t := bits.TrailingZeros64(word)
				if !fn(base | uint32(w*64+t)) {
					return
				}
				word &= word - 1
			}
		}
	}
}

func (c *container) has(l uint16) bool {
	if c.bits != nil {
		return c.bits[l>>6]&(1<<(l&63)) != 0
	}
	_, ok := slices.BinarySearch(c.arr, l)
	return ok
}

func (c *container) add(l uint16) bool {
	if c.bits != nil {
		w, m := l>>6, uint64(1)<<(l&63)
		if c.bits[w]&m != 0 {
			return false
		}
		c.bits[w] |= m
		c.n++
		return true
	}
	i, ok := slices.BinarySearch(c.arr, l)
	if ok {
		return false
	}
	c.arr = slices.Insert(c.arr, i, l)
	c.n++
	if c.n > arrayMax {
		c.toDense()
	}
	return true
}

func (c *container) remove(l uint16) bool {
	if c.bits != nil {
		w, m := l>>6, uint64(1)<<(l&63)
		if c.bits[w]&m == 0 {
			return false
		}
		c.bits[w] &^= m
		c.n--
		// Hysteresis: go back to sparse well below the threshold so a key
		// flapping around 4096 does not convert on every update.
		if c.n < arrayMax/2 {
			c.toSparse()
		}
		return true
	}
	i, ok := slices.BinarySearch(c.arr, l)
	if !ok {
		return false
	}
	c.arr = slices.Delete(c.arr, i, i+1)
	c.n--
	return true
}

func (c *container) toDense() {
	w := make([]uint64, 1024)
	for _, l := range c.arr {
		w[l>>6] |= 1 << (l & 63)
	}
	c.bits, c.arr = w, nil
}

func (c *container) toSparse() {
	arr := make([]uint16, 0, c.n)
	for w, word := range c.bits {
		for word != 0 {
			t := bits.TrailingZeros64(word)
			arr = append(arr, uint16(w*64+t))
			word &= word - 1
		}
	}
	c.arr, c.bits = arr, nil
}

// normalized returns c in the representation that suits its size, or nil
// when it is empty. It may return c itself.
func normalized(c *container) *container {
	switch {
	case c.n == 0:
		return nil
	case c.bits != nil && c.n <= arrayMax:
		c.toSparse()
	case c.bits == nil && c.n > arrayMax:
		c.toDense()
	}
	return c
}

func denseOf(c *container) []uint64 {
	if c.bits != nil {
		return c.bits
	}
	w := make([]uint64, 1024)
	for _, l := range c.arr {
		w[l>>6] |= 1 << (l & 63)
	}
	return w
}

func wordsContainer(w []uint64) *container {
	n := 0
	for _, x := range w {
		n += bits.OnesCount64(x)
	}
	return normalized(&container{bits: w, n: n})
}

func andC(a, b *container) *container {
	switch {
	case a.bits == nil && b.bits == nil:
		out := make([]uint16, 0, min(len(a.arr), len(b.arr)))
		i, j := 0, 0
		for i < len(a.arr) && j < len(b.arr) {
			switch {
			case a.arr[i] < b.arr[j]:
				i++
			case a.arr[i] > b.arr[j]:
				j++
			default:
				out = append(out, a.arr[i])
				i++
				j++
			}
		}
		return normalized(&container{arr: out, n: len(out)})
	case a.bits == nil || b.bits == nil:
		s, d := a, b
		if s.bits != nil {
			s, d = b, a
		}
		out := make([]uint16, 0, len(s.arr))
		for _, l := range s.arr {
			if d.bits[l>>6]&(1<<(l&63)) != 0 {
				out = append(out, l)
			}
		}
		return normalized(&container{arr: out, n: len(out)})
	}
	w := make([]uint64, 1024)
	for i := range w {
		w[i] = a.bits[i] & b.bits[i]
	}
	return wordsContainer(w)
}

func orC(a, b *container) *container {
	if a.bits == nil && b.bits == nil && a.n+b.n <= arrayMax {
		out := make([]uint16, 0, a.n+b.n)
		i, j := 0, 0
		for i < len(a.arr) && j < len(b.arr) {
			switch {
			case a.arr[i] < b.arr[j]:
				out = append(out, a.arr[i])
				i++
			case a.arr[i] > b.arr[j]:
				out = append(out, b.arr[j])
				j++
			default:
				out = append(out, a.arr[i])
				i++
				j++
			}
		}
		out = append(out, a.arr[i:]...)
		out = append(out, b.arr[j:]...)
		return &container{arr: out, n: len(out)}
	}
	w := make([]uint64, 1024)
	copy(w, denseOf(a))
	if b.bits != nil {
		for i := range w {
			w[i] |= b.bits[i]
		}
	} else {
		for _, l := range b.arr {
			w[l>>6] |= 1 << (l & 63)
		}
	}
	return wordsContainer(w)
}

func andNotC(a, b *container) *container {
	if a.bits == nil {
		out := make([]uint16, 0, len(a.arr))
		for _, l := range a.arr {
			if !b.has(l) {
				out = append(out, l)
			}
		}
		return normalized(&container{arr: out, n: len(out)})
	}
	w := slices.Clone(a.bits)
	if b.bits != nil {
		for i := range w {
			w[i] &^= b.bits[i]
		}
	} else {
		for _, l := range b.arr {
			w[l>>6] &^= 1 << (l & 63)
		}
	}
	return wordsContainer(w)
}

// and returns a ∩ b. Nil operands are empty sets.
func and(a, b *bitmap) *bitmap {
	out := newBitmap()
	if a.empty() || b.empty() {
		return out
	}
	i, j := 0, 0
	for i < len(a.hi) && j < len(b.hi) {
		switch {
		case a.hi[i] < b.hi[j]:
			i++
		case a.hi[i] > b.hi[j]:
			j++
		default:
			if c := andC(a.cs[i], b.cs[j]); c != nil {
				out.hi = append(out.hi, a.hi[i])
				out.cs = append(out.cs, c)
			}
			i++
			j++
		}
	}
	return out
}

// or returns a ∪ b. Containers present on one side only are shared, which
// is safe because no set operation mutates its operands.
func or(a, b *bitmap) *bitmap {
	out := newBitmap()
	if a == nil {
		a = &bitmap{}
	}
	if b == nil {
		b = &bitmap{}
	}
	i, j := 0, 0
	for i < len(a.hi) || j < len(b.hi) {
		switch {
		case j >= len(b.hi) || (i < len(a.hi) && a.hi[i] < b.hi[j]):
			out.hi = append(out.hi, a.hi[i])
			out.cs = append(out.cs, a.cs[i])
			i++
		case i >= len(a.hi) || a.hi[i] > b.hi[j]:
			out.hi = append(out.hi, b.hi[j])
			out.cs = append(out.cs, b.cs[j])
			j++
		default:
			out.hi = append(out.hi, a.hi[i])
			out.cs = append(out.cs, orC(a.cs[i], b.cs[j]))
			i++
			j++
		}
	}
	return out
}

// andNot returns a \ b.
func andNot(a, b *bitmap) *bitmap {
	out := newBitmap()
	if a.empty() {
		return out
	}
	if b.empty() {
		out.hi = append(out.hi, a.hi...)
		out.cs = append(out.cs, a.cs...)
		return out
	}
	j := 0
	for i, h := range a.hi {
		for j < len(b.hi) && b.hi[j] < h {
			j++
		}
		c := a.cs[i]
		if j < len(b.hi) && b.hi[j] == h {
			c = andNotC(c, b.cs[j])
		}
		if c != nil {
			out.hi = append(out.hi, h)
			out.cs = append(out.cs, c)
		}
	}
	return out
}

// orAll returns the union of every bitmap in bs.
func orAll(bs []*bitmap) *bitmap {
	switch len(bs) {
	case 0:
		return newBitmap()
	case 1:
		return bs[0]
	}
	// Pairwise reduction keeps merges balanced: unions of thousands of
	// single-id postings (a range over unique values) stay O(n log n).
	for len(bs) > 1 {
		next := bs[:0:0]
		for i := 0; i < len(bs); i += 2 {
			if i+1 < len(bs) {
				next = append(next, or(bs[i], bs[i+1]))
			} else {
				next = append(next, bs[i])
			}
		}
		bs = next
	}
	return bs[0]
}
