package engine

import (
	"strings"
	"testing"
)

func TestNormalizeNamespace(t *testing.T) {
	cases := []struct{ in, want, code string }{
		{"", "default", ""},
		{"  Orders ", "orders", ""},
		{"a.b_c-d9", "a.b_c-d9", ""},
		{".txns", "", "invalid_namespace"},
		{"bad namespace!", "", "invalid_namespace"},
		{"a/b", "", "invalid_namespace"},
		{strings.Repeat("n", 128), strings.Repeat("n", 128), ""},
		{strings.Repeat("n", 129), "", "invalid_namespace"},
	}
	for _, c := range cases {
		got, err := NormalizeNamespace(c.in, "default")
		if got != c.want || Code(err) != c.code {
			t.Errorf("NormalizeNamespace(%q) = %q, %v; want %q, %s", c.in, got, err, c.want, c.code)
		}
	}
}

func TestNormalizeKey(t *testing.T) {
	cases := []struct{ in, want, code string }{
		{"k1", "k1", ""},
		{" /Orders/O-1 ", "orders/o-1", ""},
		{"", "", "missing_key"},
		{"/", "", "missing_key"},
		{"a//b", "", "invalid_key"},
		{"a/", "", "invalid_key"},
		{"//a", "", "invalid_key"},
		{"A B", "", "invalid_key"},
		{"ключ", "", "invalid_key"},
		{strings.Repeat("k", 128), strings.Repeat("k", 128), ""},
		{strings.Repeat("k", 129), "", "invalid_key"},
	}
	for _, c := range cases {
		got, err := NormalizeKey(c.in)
		if got != c.want || Code(err) != c.code {
			t.Errorf("NormalizeKey(%q) = %q, %v; want %q, %s", c.in, got, err, c.want, c.code)
		}
	}
	if got := StripNamespacePrefix(" Orders/x ", "orders"); got != "x" {
		t.Errorf("StripNamespacePrefix = %q", got)
	}
	if got := StripNamespacePrefix("orders", "orders"); got != "orders" {
		t.Errorf("StripNamespacePrefix without slash = %q", got)
	}
}

// FuzzNames checks the validation invariants: accepted names are canonical
// (normalising again is a no-op), within the length limit, in the charset,
// never reserved, and rejections carry the wire code and name the input.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"k1", " /Orders/O-1 ", "a//b", ".txns", "A B", "", "/", "x/y/z", "ключ", strings.Repeat("a", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if key, err := NormalizeKey(s); err == nil {
			if again, err := NormalizeKey(key); err != nil || again != key {
				t.Fatalf("key %q normalises to %q, then %q %v", s, key, again, err)
			}
			if len(key) > MaxNameLen || key == "" || key[0] == '/' || strings.Contains(key, "//") {
				t.Fatalf("accepted bad key %q", key)
			}
			for _, seg := range strings.Split(key, "/") {
				if !validSegment(seg) {
					t.Fatalf("accepted segment %q of %q", seg, key)
				}
			}
		} else if c := Code(err); c != "invalid_key" && c != "missing_key" {
			t.Fatalf("key %q: code %q", s, c)
		}
		if ns, err := NormalizeNamespace(s, "default"); err == nil {
			if again, err := NormalizeNamespace(ns, "x"); err != nil || again != ns {
				t.Fatalf("namespace %q normalises to %q, then %q %v", s, ns, again, err)
			}
			if ns[0] == '.' || len(ns) > MaxNameLen || !validSegment(ns) {
				t.Fatalf("accepted bad namespace %q", ns)
			}
		} else if Code(err) != "invalid_namespace" {
			t.Fatalf("namespace %q: code %q", s, Code(err))
		}
	})
}
