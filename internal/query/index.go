package query

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// maxTermLen is the longest string kept verbatim in a term dictionary.
// Longer strings (note bodies, descriptions) are only recorded as "a long
// string sits at this path": clauses on them are verified by the matcher,
// which keeps the index far smaller than the documents it covers.
const maxTermLen = 256

// termKind says what a term of a field records.
type termKind uint8

const (
	termStr  termKind = iota // a scalar's string form (string, number text, true/false)
	termNum                  // a numeric form (number, or a string ParseFloat accepts)
	termTime                 // a temporal literal, in UTC nanoseconds
)

// Special postings of a field. Their forward-entry ids sit below
// firstTermID; dictionary terms start at firstTermID.
const (
	specPresent = iota // the path resolves (any node, null included)
	specExists         // a non-null node
	specLong           // a string longer than maxTermLen
	specOdd            // a value the index cannot classify surely
	specDateish        // a string that looks like a temporal literal
	numSpecials
)

const firstTermID = numSpecials

// term is one dictionary entry of a field: a value and the keys holding it.
type term struct {
	kind termKind
	s    string
	f    float64
	t    int64
	post *bitmap // nil when the slot is free
	// oldMark/newMark stamp the term with the epoch of the change being
	// applied: held by the key before it, held by the new document.
	oldMark, newMark uint64
}

// field holds the postings of one canonical path.
type field struct {
	path    string
	special [numSpecials]*bitmap
	strs    map[string]uint32
	nums    map[float64]uint32
	times   map[int64]uint32
	terms   []term // indexed by term id - firstTermID
	free    []uint32
	// specOld/specNew stamp the specials with the epoch of the change
	// being applied (see addNodeLocked).
	specOld, specNew [numSpecials]uint64
}

func newField(path string) *field {
	f := &field{path: path, strs: map[string]uint32{}, nums: map[float64]uint32{}, times: map[int64]uint32{}}
	for i := range f.special {
		f.special[i] = newBitmap()
	}
	return f
}

// entry is one forward-index record: key id k appears in posting term of
// field fid. Keeping them per key lets an update remove the old postings
// without the old document.
type entry struct {
	fid  uint32
	term uint32
}

// docInfo is what the index remembers of one key.
type docInfo struct {
	key     string
	version int64
	etag    string // Change.ETag of the indexed document, "" when unknown
	entries []entry
}

// Index is the inverted index of one namespace over committed documents.
// See doc.go for the model; Submit/WaitFor in applier.go feed it.
type Index struct {
	mu     sync.RWMutex
	ids    map[string]uint32
	docs   []docInfo // by key id; key "" marks a free id
	freeID []uint32
	// live holds every indexed key; objects those whose document is a JSON
	// object the index could walk. verify holds the live keys the index
	// cannot describe (non-objects, unreadable or unwalkable documents):
	// every non-empty query verifies them with the matcher.
	live, objects, verify, hidden *bitmap
	fields                        map[string]uint32
	fieldList                     []*field
	epoch                         uint64 // counts applyLocked calls
	// order holds the keys in key order for pages of broad selectors;
	// walkMin is the fewest candidates for which a page walks it instead
	// of collecting every candidate (see candidates).
	order   keyOrder
	walkMin int

	applier
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	ix := &Index{
		ids:     map[string]uint32{},
		live:    newBitmap(),
		objects: newBitmap(),
		verify:  newBitmap(),
		hidden:  newBitmap(),
		fields:  map[string]uint32{},
		walkMin: defaultWalkMin,
	}
	ix.applier.init(ix)
	return ix
}

// prepared is a change parsed outside the index lock.
type prepared struct {
	Change
	// same marks a change whose document has the ETag already indexed for
	// the key: only the version and the hidden flag move.
	same   bool
	object bool // the document is a JSON object and nodes describes it
	nodes  []node
}

// pathRef is an interned canonical path and, once the index has met it,
// its field id: the applier resolves each distinct path once instead of
// once per node (fields are never removed, so the id stays valid).
type pathRef struct {
	path string
	fid  int32 // -1 until resolved
}

// node is one indexed document node with its derived forms.
type node struct {
	ref     *pathRef
	kind    nodeKind
	text    string // string form of scalars
	odd     bool   // invalid UTF-8 or a number out of float64 range
	num     float64
	numOK   bool
	tclass  temporalClass
	instant int64
}

// prepare walks a document into nodes, appended to arena (returned
// grown; p.nodes is the document's part of it). paths interns canonical
// paths so a namespace of similar documents shares one copy of each.
func prepare(c Change, doc string, readErr error, paths map[string]*pathRef, arena []node) (prepared, []node) {
	p := prepared{Change: c}
	if c.Delete || readErr != nil {
		return p, arena
	}
	// Node texts alias doc; the index clones the few that become new
	// dictionary terms.
	start := len(arena)
	nodes := slices.Grow(arena, len(doc)/8)
	kind, err := walkJSON(doc, func(path []byte, kind nodeKind, text string, utf8OK bool) {
		ref, ok := paths[string(path)]
		if !ok {
			ref = &pathRef{path: string(path), fid: -1}
			paths[ref.path] = ref
		}
		n := node{ref: ref, kind: kind, text: text, odd: !utf8OK}
		switch kind {
		case kindNumber, kindString:
			if kind == kindString && !mayBeNumeric(text) {
				n.tclass, n.instant = classifyTemporal(text)
				break
			}
			if f, ok := smallInt(text); ok {
				n.num, n.numOK = f, true
				if kind == kindString {
					n.tclass, n.instant = classifyTemporal(text)
				}
				break
			}
			f, err := strconv.ParseFloat(text, 64)
			switch {
			case err == nil && !math.IsNaN(f):
				n.num, n.numOK = f, true
			case err != nil && errors.Is(err, strconv.ErrRange):
				n.odd = true // the reference may or may not give it a numeric form
			}
			if kind == kindString {
				n.tclass, n.instant = classifyTemporal(text)
			}
		}
		nodes = append(nodes, n)
	})
	if err != nil || kind != kindObject {
		clear(nodes[start:])
		return p, nodes[:start]
	}
	// Capped so a later document appending to the arena cannot write
	// into this one's nodes.
	p.object, p.nodes = true, nodes[start:len(nodes):len(nodes)]
	return p, nodes
}

// smallInt is strconv.ParseFloat for the commonest numbers, integers of
// at most 15 digits ([sign] digits): every such value is exact in a
// float64, so the result is the one ParseFloat returns (-0 included), at
// a fraction of its cost. ok is false for anything else.
func smallInt(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i == len(s) || len(s)-i > 15 {
		return 0, false
	}
	var u uint64
	for _, c := range []byte(s[i:]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	f := float64(u)
	if s[0] == '-' {
		f = -f
	}
	return f, true
}

// mayBeNumeric is a cheap, exact filter before strconv.ParseFloat, whose
// failures allocate: a string can only parse if it is a plain decimal
// ([sign] digits [. digits] [e [sign] digits]) or one of the rarer
// spellings ParseFloat accepts: hex floats (0x…p…), digit separators
// (1_000), inf, infinity and nan. It may say yes to strings that do not
// parse, never no to one that does (TestMayBeNumericIsExact).
func mayBeNumeric(s string) bool {
	if s == "" {
		return false
	}
	if isDecimal(s) {
		return true
	}
	t := s
	if t[0] == '+' || t[0] == '-' {
		t = t[1:]
	}
	switch {
	case strings.EqualFold(t, "inf"), strings.EqualFold(t, "infinity"), strings.EqualFold(t, "nan"):
		return true
	case len(t) >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X'):
		return true
	case t != "" && (t[0] == '.' || (t[0] >= '0' && t[0] <= '9')) && strings.IndexByte(t, '_') >= 0:
		return true
	}
	return false
}

func isDecimal(s string) bool {
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// applyLocked applies one prepared change. The caller holds mu for writing.
func (ix *Index) applyLocked(p prepared) {
	ix.epoch++
	id, exists := ix.ids[p.Key]
	if p.same && exists && ix.docs[id].etag == p.ETag && !ix.verify.has(id) {
		d := &ix.docs[id]
		d.version = p.Version
		if p.Hidden {
			ix.hidden.add(id)
		} else {
			ix.hidden.remove(id)
		}
		return
	}
	if p.same {
		// The document changed since the batch was inspected and was not
		// parsed: let queries read it until its next change.
		p.object = false
	}
	// Updates are applied as a difference: old entries are marked, the new
	// document's entries are resolved against the marks, and only postings
	// that really change are touched. A typical update (one field of a
	// document) then costs lookups, not posting edits.
	var old []entry
	if exists {
		old = ix.docs[id].entries
		ix.markOldLocked(old)
	}
	if p.Delete {
		if exists {
			ix.dropLocked(id, old)
			ix.objects.remove(id)
			delete(ix.ids, p.Key)
			ix.docs[id] = docInfo{}
			ix.freeID = append(ix.freeID, id)
			ix.live.remove(id)
			ix.verify.remove(id)
			ix.hidden.remove(id)
		}
		return
	}
	if !exists {
		if n := len(ix.freeID); n > 0 {
			id = ix.freeID[n-1]
			ix.freeID = ix.freeID[:n-1]
		} else {
			id = uint32(len(ix.docs))
			ix.docs = append(ix.docs, docInfo{})
		}
		ix.ids[p.Key] = id
		ix.live.add(id)
	}
	d := &ix.docs[id]
	d.key, d.version, d.etag = p.Key, p.Version, ""
	if !exists {
		ix.order.add(keyPair{p.Key, id}, ix.docs)
	}
	if p.Hidden {
		ix.hidden.add(id)
	} else {
		ix.hidden.remove(id)
	}
	if !p.object {
		ix.dropLocked(id, old)
		d.entries = nil
		ix.objects.remove(id)
		ix.verify.add(id)
		return
	}
	ix.verify.remove(id)
	ix.objects.add(id)
	d.etag = p.ETag
	entries := make([]entry, 0, max(len(old), 2*len(p.nodes)))
	for i := range p.nodes {
		ix.addNodeLocked(id, &entries, &p.nodes[i])
	}
	ix.dropLocked(id, old)
	d.entries = entries
}

// markOldLocked stamps the postings of a key's current entries with the
// epoch, as "held before this change".
func (ix *Index) markOldLocked(old []entry) {
	for _, e := range old {
		f := ix.fieldList[e.fid]
		if e.term < firstTermID {
			f.specOld[e.term] = ix.epoch
		} else {
			f.terms[e.term-firstTermID].oldMark = ix.epoch
		}
	}
}

// dropLocked removes key id from every posting of old that the new
// document did not stamp, freeing terms left empty.
func (ix *Index) dropLocked(id uint32, old []entry) {
	for _, e := range old {
		f := ix.fieldList[e.fid]
		if e.term < firstTermID {
			if f.specNew[e.term] != ix.epoch {
				f.special[e.term].remove(id)
			}
			continue
		}
		t := &f.terms[e.term-firstTermID]
		if t.newMark == ix.epoch {
			continue
		}
		t.post.remove(id)
		if t.post.empty() {
			switch t.kind {
			case termStr:
				delete(f.strs, t.s)
			case termNum:
				delete(f.nums, t.f)
			case termTime:
				delete(f.times, t.t)
			}
			*t = term{}
			f.free = append(f.free, e.term)
		}
	}
}

func (ix *Index) fieldLocked(path string) (uint32, *field) {
	if fid, ok := ix.fields[path]; ok {
		return fid, ix.fieldList[fid]
	}
	fid := uint32(len(ix.fieldList))
	f := newField(path)
	ix.fields[path] = fid
	ix.fieldList = append(ix.fieldList, f)
	return fid, f
}

// addNodeLocked records node n of key id, appending its entries. Postings
// the key already held (stamped by markOldLocked) are left alone, and the
// new stamps deduplicate entries within the document (every element of an
// array sets the same specials of its path).
func (ix *Index) addNodeLocked(id uint32, entries *[]entry, n *node) {
	if n.ref.fid < 0 {
		fid, _ := ix.fieldLocked(n.ref.path)
		n.ref.fid = int32(fid)
	}
	fid := uint32(n.ref.fid)
	f := ix.fieldList[fid]
	epoch := ix.epoch
	special := func(s int) {
		if f.specNew[s] == epoch {
			return
		}
		f.specNew[s] = epoch
		if f.specOld[s] != epoch {
			f.special[s].add(id)
		}
		*entries = append(*entries, entry{fid, uint32(s)})
	}
	addTerm := func(tid uint32) {
		t := &f.terms[tid-firstTermID]
		if t.newMark == epoch {
			return
		}
		t.newMark = epoch
		if t.oldMark != epoch {
			t.post.add(id)
		}
		*entries = append(*entries, entry{fid, tid})
	}
	special(specPresent)
	if n.kind == kindNull {
		return
	}
	special(specExists)
	if n.kind == kindObject || n.kind == kindArray {
		return
	}
	if n.odd {
		special(specOdd)
	}
	switch {
	case len(n.text) > maxTermLen:
		special(specLong)
	default:
		tid, ok := f.strs[n.text]
		if !ok {
			s := strings.Clone(n.text) // do not pin the whole document
			tid = f.newTerm(term{kind: termStr, s: s})
			f.strs[s] = tid
		}
		addTerm(tid)
	}
	if n.numOK {
		tid, ok := f.nums[n.num]
		if !ok {
			tid = f.newTerm(term{kind: termNum, f: n.num})
			f.nums[n.num] = tid
		}
		addTerm(tid)
	}
	switch n.tclass {
	case temporalOK:
		special(specDateish)
		tid, ok := f.times[n.instant]
		if !ok {
			tid = f.newTerm(term{kind: termTime, t: n.instant})
			f.times[n.instant] = tid
		}
		addTerm(tid)
	case temporalUnsure:
		special(specDateish)
		special(specOdd)
	}
}

func (f *field) newTerm(t term) uint32 {
	t.post = newBitmap()
	if n := len(f.free); n > 0 {
		tid := f.free[n-1]
		f.free = f.free[:n-1]
		f.terms[tid-firstTermID] = t
		return tid
	}
	f.terms = append(f.terms, t)
	return uint32(len(f.terms)-1) + firstTermID
}

// Len returns the number of indexed keys.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.ids)
}
