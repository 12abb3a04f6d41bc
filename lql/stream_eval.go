package lql

// eval consumes one candidate whose first byte is c and returns the
// decision (spec §7.2).
func (p *queryPlan) eval(sc *scanner, c byte) (bool, error) {
	if p.empty {
		return true, sc.skipValue()
	}
	if c != '{' {
		return false, sc.skipValue()
	}
	clear(p.results)
	p.stack = p.stack[:0]
	for i := range p.clauses {
		if !p.clauses[i].never {
			p.stack = append(p.stack, active{c: int32(i)})
		}
	}
	if err := p.walkValue(sc, c, p.stack, 0); err != nil {
		return false, err
	}
	return p.decide(p.root), nil
}

// evalCaptured is eval that also returns the candidate's bytes.
func (p *queryPlan) evalCaptured(sc *scanner, c byte, buf []byte) (bool, []byte, error) {
	sc.startCapture(buf)
	m, err := p.eval(sc, c)
	return m, sc.stopCapture(), err
}

// walkValue consumes the value starting with byte c while acts (clauses
// and how far along their paths they are) are active at it.
func (p *queryPlan) walkValue(sc *scanner, c byte, acts []active, depth int) error {
	if len(acts) == 0 {
		return sc.skipValue()
	}
	if depth > maxNesting {
		return sc.fail("nesting deeper than %d", maxNesting)
	}
	// "..." also stands for zero levels at a non-null node: advance past
	// it here (repeatedly, for consecutive "...").
	// acts always sits on top of p.stack, so it can grow in place.
	if c != 'n' {
		start := len(p.stack) - len(acts)
		for i := start; i < len(p.stack); i++ {
			a := p.stack[i]
			cl := &p.clauses[a.c]
			if int(a.pos) < len(cl.segs) && cl.segs[a.pos].kind == segDeep {
				p.stack = append(p.stack, active{c: a.c, pos: a.pos + 1})
			}
		}
		acts = p.stack[start:]
	}
	deeper := false
	for _, a := range acts {
		cl := &p.clauses[a.c]
		if int(a.pos) < len(cl.segs) {
			deeper = true
		}
	}
	switch c {
	case '{', '[':
		for _, a := range acts {
			if cl := &p.clauses[a.c]; int(a.pos) == len(cl.segs) && cl.holdsContainer() {
				p.results[a.c] = true
			}
		}
		if !deeper {
			return sc.skipValue()
		}
		if c == '{' {
			return p.walkObject(sc, acts, depth)
		}
		return p.walkArray(sc, acts, depth)
	}
	p.tok = p.tok[:0]
	kind, err := sc.readScalar(c, &p.tok)
	if err != nil {
		return err
	}
	var v any
	decoded := false
	for _, a := range acts {
		cl := &p.clauses[a.c]
		if int(a.pos) != len(cl.segs) || p.results[a.c] {
			continue
		}
		if done, ok := cl.holdsFast(kind, p.tok); done {
			p.results[a.c] = ok
			continue
		}
		if !decoded {
			v, decoded = scalarValue(kind, p.tok), true
		}
		if cl.holds(v) {
			p.results[a.c] = true
		}
	}
	return nil
}

// step derives the actives of a child from those of its parent; key is the
// member name for objects, idx the element index for arrays (-1 for
// objects).
func (p *queryPlan) step(acts []active, key []byte, idx int) []active {
	start := len(p.stack)
	for _, a := range acts {
		if p.results[a.c] {
			continue // the any-value rule: already satisfied
		}
		cl := &p.clauses[a.c]
		if int(a.pos) >= len(cl.segs) {
			continue
		}
		seg := &cl.segs[a.pos]
		next := a.pos + 1
		ok := false
		switch seg.kind {
		case segKey:
			if idx < 0 {
				ok = string(key) == seg.key
			} else {
				ok = seg.idx == idx
			}
		case segStar:
			ok = idx < 0
		case segElem:
			ok = idx >= 0
		case segAny:
			ok = true
		case segDeep:
			ok, next = true, a.pos
		}
		if ok {
			p.stack = append(p.stack, active{c: a.c, pos: next})
		}
	}
	return p.stack[start:]
}

func (p *queryPlan) walkObject(sc *scanner, acts []active, depth int) error {
	sc.pos++ // '{'
	c, ok := sc.peek()
	if !ok {
		return sc.fail("unterminated object")
	}
	if c == '}' {
		sc.pos++
		return nil
	}
	for {
		p.key = p.key[:0]
		if err := sc.readKey(&p.key); err != nil {
			return err
		}
		mark := len(p.stack)
		child := p.step(acts, p.key, -1)
		c, ok := sc.peek()
		if !ok {
			return sc.fail("unexpected end of input, expected a value")
		}
		if err := p.walkValue(sc, c, child, depth+1); err != nil {
			return err
		}
		p.stack = p.stack[:mark]
		c, ok = sc.peek()
		switch {
		case !ok:
			return sc.fail("unterminated object")
		case c == ',':
			sc.pos++
		case c == '}':
			sc.pos++
			return nil
		default:
			return sc.fail("unexpected %q in object", c)
		}
	}
}

func (p *queryPlan) walkArray(sc *scanner, acts []active, depth int) error {
	sc.pos++ // '['
	c, ok := sc.peek()
	if !ok {
		return sc.fail("unterminated array")
	}
	if c == ']' {
		sc.pos++
		return nil
	}
	for i := 0; ; i++ {
		mark := len(p.stack)
		child := p.step(acts, nil, i)
		c, ok := sc.peek()
		if !ok {
			return sc.fail("unexpected end of input, expected a value")
		}
		if err := p.walkValue(sc, c, child, depth+1); err != nil {
			return err
		}
		p.stack = p.stack[:mark]
		c, ok = sc.peek()
		switch {
		case !ok:
			return sc.fail("unterminated array")
		case c == ',':
			sc.pos++
		case c == ']':
			sc.pos++
			return nil
		default:
			return sc.fail("unexpected %q in array", c)
		}
	}
}
