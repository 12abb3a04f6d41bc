package lql

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ApplyMutations applies muts to doc in order (spec §5.9); every mutation
// sees the results of the earlier ones. Literal paths create missing
// intermediate objects and replace non-objects on the way; wildcard paths
// only touch what exists. File-backed values are read when applied. On
// error doc may be partly mutated.
func ApplyMutations(doc map[string]any, muts []Mutation) error {
	if doc == nil {
		return errors.New("document must be an object")
	}
	for i := range muts {
		m := &muts[i]
		if len(m.segs) == 0 {
			if err := fillSegments(m); err != nil {
				return err
			}
		}
		if _, _, err := applyToSlot(doc, true, false, m, m.segs, ""); err != nil {
			return err
		}
	}
	return nil
}

// fillSegments derives segments for a Mutation built by hand rather than
// parsed.
func fillSegments(m *Mutation) error {
	muts, err := newMutation(m.Path, *m)
	if err != nil {
		return err
	}
	*m = muts[0]
	return nil
}

// applyToSlot applies mutation m, with rest left of its path, to the value
// v held in one slot (an object member, an array element, or the root).
// present is false for a missing member. It returns the slot's new value
// and presence. where names the slot in wildcard error messages.
//
// The rules are pre-order: when a slot is a target its old value is
// replaced before anything below it would be visited, so a wildcard never
// descends into a value it has just written.
func applyToSlot(v any, present, inArray bool, m *Mutation, rest []segment, where string) (any, bool, error) {
	if len(rest) == 0 {
		return applyTarget(v, present, inArray, m, where)
	}
	if !m.wild {
		key := rest[0].key
		obj, isObj := v.(map[string]any)
		if m.Kind == MutationRemove {
			// Removal walks only existing objects and never creates.
			if !present || !isObj {
				return v, present, nil
			}
			cv, cp := obj[key]
			if !cp {
				return v, present, nil
			}
			nv, np, err := applyToSlot(cv, true, false, m, rest[1:], "")
			if err != nil {
				return v, present, err
			}
			setMember(obj, key, nv, np)
			return v, present, nil
		}
		if !present || !isObj {
			obj = map[string]any{}
		}
		cv, cp := obj[key]
		nv, np, err := applyToSlot(cv, cp, false, m, rest[1:], "")
		if err != nil {
			return obj, true, err
		}
		setMember(obj, key, nv, np)
		return obj, true, nil
	}
	if !present || v == nil {
		return v, present, nil
	}
	seg := rest[0]
	next := rest[1:]
	switch n := v.(type) {
	case map[string]any:
		if seg.kind == segKey {
			if cv, ok := n[seg.key]; ok {
				nv, np, err := applyToSlot(cv, true, false, m, next, seg.key)
				if err != nil {
					return v, true, err
				}
				setMember(n, seg.key, nv, np)
			}
			return v, true, nil
		}
		if seg.kind == segElem {
			return v, true, nil
		}
		if seg.kind == segDeep {
			if _, _, err := applyToSlot(v, true, inArray, m, next, where); err != nil {
				return v, true, err
			}
			next = rest // stay on "..." below this node
		}
		for k, cv := range n {
			if seg.kind == segDeep && cv == nil {
				continue
			}
			nv, np, err := applyToSlot(cv, true, false, m, next, k)
			if err != nil {
				return v, true, err
			}
			setMember(n, k, nv, np)
		}
	case []any:
		switch seg.kind {
		case segKey:
			if seg.idx >= 0 && seg.idx < len(n) {
				nv, _, err := applyToSlot(n[seg.idx], true, true, m, next, indexName(seg.idx))
				if err != nil {
					return v, true, err
				}
				n[seg.idx] = nv
			}
			return v, true, nil
		case segStar:
			return v, true, nil
		case segDeep:
			if _, _, err := applyToSlot(v, true, inArray, m, next, where); err != nil {
				return v, true, err
			}
			next = rest
		}
		for i, cv := range n {
			if seg.kind == segDeep && cv == nil {
				continue
			}
			nv, _, err := applyToSlot(cv, true, true, m, next, indexName(i))
			if err != nil {
				return v, true, err
			}
			n[i] = nv
		}
	}
	return v, true, nil
}

func indexName(i int) string { return "index " + strconv.Itoa(i) }

func setMember(obj map[string]any, key string, v any, present bool) {
	if present {
		obj[key] = v
	} else {
		delete(obj, key)
	}
}

// applyTarget performs m on the slot it targets.
func applyTarget(v any, present, inArray bool, m *Mutation, where string) (any, bool, error) {
	if m.wild && !present {
		return v, present, nil
	}
	switch m.Kind {
	case MutationRemove:
		if inArray {
			return nil, true, nil
		}
		return nil, false, nil
	case MutationIncrement:
		if !present {
			return incremented(nil, m.Delta), true, nil
		}
		if !isNumber(v) {
			if !m.wild {
				where = dottedPath(m.segs)
			}
			return v, present, fmt.Errorf("value at %s is not numeric", where)
		}
		return incremented(v, m.Delta), true, nil
	}
	if m.File != nil {
		s, err := m.File.read()
		if err != nil {
			return v, present, err
		}
		return s, true, nil
	}
	return m.Value, true, nil
}

func dottedPath(segs []segment) string {
	parts := make([]string, len(segs))
	for i, s := range segs {
		parts[i] = s.key
	}
	return strings.Join(parts, ".")
}

func isNumber(v any) bool {
	switch v.(type) {
	case float64, json.Number, int64, int, float32, int32, uint64, uint:
		return true
	}
	return false
}

// incremented adds delta to a numeric value (nil meaning a missing 0) and
// keeps the number family of the input: json.Number stays json.Number,
// float64 stays float64. Results within 1e-9 of an integer are integers
// (spec §5.5).
func incremented(v any, delta float64) any {
	base, _ := numericForm(v)
	r := base + delta
	text := formatIncrement(r)
	switch v.(type) {
	case json.Number:
		return json.Number(text)
	case float64, float32:
		f, _ := strconv.ParseFloat(text, 64)
		return f
	}
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return i
	}
	return r
}

// appendIncrement appends formatIncrement(r) without allocating.
func appendIncrement(b []byte, r float64) []byte {
	if rr := math.Round(r); math.Abs(r-rr) < 1e-9 && math.Abs(rr) < 1e18 {
		return strconv.AppendInt(b, int64(rr), 10)
	}
	return appendJSONFloat(b, r)
}

// formatIncrement is the JSON text of an increment result; both engines
// use it so that their outputs agree byte for byte.
func formatIncrement(r float64) string {
	if rr := math.Round(r); math.Abs(r-rr) < 1e-9 && math.Abs(rr) < 1e18 {
		return strconv.FormatInt(int64(rr), 10)
	}
	return string(appendJSONFloat(nil, r))
}
