package lql

import (
	"encoding/json"
	"testing"
)

func TestSelectorJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"value omitted", `{"contains":{"field":"/msg"}}`, `{"contains":{"field":"/msg"}}`},
		{"value empty", `{"contains":{"field":"/msg","value":""}}`, `{"contains":{"field":"/msg","value":""}}`},
		{"value null is explicit", `{"contains":{"field":"/msg","value":null}}`, `{"contains":{"field":"/msg","value":""}}`},
		{"value number", `{"eq":{"field":"/n","value":42.0}}`, `{"eq":{"field":"/n","value":"42"}}`},
		{"value bool", `{"eq":{"field":"/n","value":true}}`, `{"eq":{"field":"/n","value":"true"}}`},
		{"any string", `{"contains":{"field":"/m","any":"a| b ||c"}}`, `{"contains":{"field":"/m","any":["a","b","c"]}}`},
		{"any array", `{"contains":{"field":"/m","any":["a",1.50,true," "]}}`, `{"contains":{"field":"/m","any":["a","1.5","true"]}}`},
		{"ignoreCase string", `{"contains":{"field":"/m","value":"x","ignoreCase":"T"}}`, `{"contains":{"field":"/m","value":"x","ignoreCase":true}}`},
		{"case-insensitive members", `{"EQ":{"FIELD":"/a","Value":"x"}}`, `{"eq":{"field":"/a","value":"x"}}`},
		{"range mixed kinds", `{"range":{"field":"/p","gt":10,"lte":"2025-01-01"}}`, `{"range":{"field":"/p","gt":10,"lte":"2025-01-01"}}`},
		{"in", `{"in":{"field":"/s","any":["queued","running"]}}`, `{"in":{"field":"/s","any":["queued","running"]}}`},
		{"nested", `{"and":[{"exists":"/a"},{"not":{"date":{"field":"/t","after":"2025-01-01"}}}]}`, `{"and":[{"exists":"/a"},{"not":{"date":{"field":"/t","after":"2025-01-01"}}}]}`},
		{"empty", `{}`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Selector
			if err := json.Unmarshal([]byte(tt.in), &s); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			got, err := json.Marshal(s)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSelectorJSONErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"eq":{"value":"x"}}`, "term field required"},
		{`{"range":{"gt":1}}`, "range field required"},
		{`{"range":{"field":"/a","gt":" "}}`, "range gt: value required"},
		{`{"range":{"field":"/a","lte":true}}`, "range lte: value must be numeric or datetime string"},
		{`{"contains":{"field":"/a","any":"|"}}`, "term any requires values"},
		{`{"contains":{"field":"/a","ignoreCase":"maybe"}}`, "term ignoreCase must be true/false/t/f"},
		{`{"contains":{"field":"/a","ignoreCase":1}}`, "term ignoreCase must be boolean"},
	}
	for _, tt := range tests {
		var s Selector
		err := json.Unmarshal([]byte(tt.in), &s)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: got %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestSelectorIsEmpty(t *testing.T) {
	if !(Selector{}).IsEmpty() {
		t.Fatal("zero selector should be empty")
	}
	if (Selector{Exists: "/a"}).IsEmpty() {
		t.Fatal("exists selector should not be empty")
	}
}
