package lql

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// decodeDoc decodes a test document keeping numbers as written (the lockd
// semantics the spec examples assume).
func decodeDoc(t testing.TB, doc string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", doc, err)
	}
	return m
}

func parseExample(ex selectorExample) (Selector, error) {
	switch ex.mode {
	case modeOr:
		return ParseSelectorStringOr(ex.expr)
	case modeAST:
		var s Selector
		if err := json.Unmarshal([]byte(ex.expr), &s); err != nil {
			return Selector{}, err
		}
		return s, s.Validate()
	}
	return ParseSelectorString(ex.expr)
}

// sameJSON compares two JSON texts structurally.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func TestSelectorExamples(t *testing.T) {
	for _, ex := range selectorExamples {
		t.Run(ex.name, func(t *testing.T) {
			sel, err := parseExample(ex)
			switch {
			case len(ex.want) > 4 && ex.want[:4] == "err:":
				if err == nil {
					got, _ := json.Marshal(sel)
					t.Fatalf("parse %q: want error %q, got %s", ex.expr, ex.want[4:], got)
				}
				var pe *ParseError
				if ex.mode != modeAST && !errors.As(err, &pe) {
					t.Fatalf("error %T is not *ParseError", err)
				}
				if err.Error() != ex.want[4:] {
					t.Fatalf("parse %q: error %q, want %q", ex.expr, err.Error(), ex.want[4:])
				}
				return
			case err != nil:
				t.Fatalf("parse %q: %v", ex.expr, err)
			}
			got, err := json.Marshal(sel)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if len(ex.want) > 4 && ex.want[:4] == "ast:" {
				if !sameJSON(got, []byte(ex.want[4:])) {
					t.Fatalf("parse %q:\n got %s\nwant %s", ex.expr, got, ex.want[4:])
				}
				return
			}
			var back Selector
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("unmarshal own AST %s: %v", got, err)
			}
			doc := decodeDoc(t, ex.doc)
			want := ex.want == "match"
			if m := Matches(sel, doc); m != want {
				t.Fatalf("Matches(%q, %s) = %v, want %v (AST %s)", ex.expr, ex.doc, m, want, got)
			}
			if m := Matches(back, doc); m != want {
				t.Fatalf("Matches after JSON round trip = %v, want %v (AST %s)", m, want, got)
			}
			if m, err := MatchReader(sel, bytes.NewReader([]byte(ex.doc))); err != nil || m != want {
				t.Fatalf("MatchReader(%q, %s) = %v, %v, want %v", ex.expr, ex.doc, m, err, want)
			}
		})
	}
}
