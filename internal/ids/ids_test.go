package ids

import (
	"regexp"
	"sort"
	"testing"
)

func TestXIDShapeAndOrder(t *testing.T) {
	g := NewXIDGenerator()
	seen := make(map[string]bool)
	var list []string
	for i := 0; i < 1000; i++ {
		id := g.New()
		if err := ValidXID(id); err != nil {
			t.Fatalf("New() = %q: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("duplicate xid %q", id)
		}
		seen[id] = true
		list = append(list, id)
	}
	if !sort.StringsAreSorted(list) {
		t.Fatalf("xids minted in one second by one generator must sort in mint order")
	}
}

func TestValidXID(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"dc3rt69ksdu9l1n1tqmg", true},
		{"dc3rt69ksdu9l1n1tqn0", true},
		{"aaaaaaaaaaaaaaaaaaaa", false}, // last char carries one bit
		{"DC3RT69KSDU9L1N1TQMG", false},
		{"dc3rt69ksdu9l1n1tqm", false},
		{"dc3rt69ksdu9l1n1tqmw", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidXID(tt.in) == nil; got != tt.ok {
			t.Errorf("ValidXID(%q) ok = %v, want %v", tt.in, got, tt.ok)
		}
	}
}

func TestUUIDv7Shape(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for i := 0; i < 100; i++ {
		if id := NewUUIDv7(); !re.MatchString(id) {
			t.Fatalf("NewUUIDv7() = %q is not a v7 UUID", id)
		}
	}
}
