package tools

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/schemas"
	"github.com/mark3labs/mcp-go/mcp"
)

func committedSchemas(name string) (json.RawMessage, json.RawMessage, error) {
	f, err := schemas.File(name)
	if err != nil {
		return nil, nil, err
	}
	return CompactSchema(f)
}

func TestCatalogueIsValid(t *testing.T) {
	if err := Validate(Catalogue()); err != nil {
		t.Fatal(err)
	}
}

func TestValidateRejectsLyingAnnotations(t *testing.T) {
	h := func(context.Context, *Deps, mcp.CallToolRequest) *mcp.CallToolResult { return nil }
	tool := func(ann Annotations) Tool {
		return Tool{Name: "x_y", Dotted: "x.y", Annotations: ann, Args: &HintArgs{}, Result: &HintResult{}, Handler: h}
	}
	tests := []struct {
		name string
		set  Toolset
		want string
	}{
		{"read tool not read-only", Toolset{Name: "s", Read: []Tool{tool(Annotations{})}}, "must be annotated readOnly"},
		{"read tool destructive", Toolset{Name: "s", Read: []Tool{tool(Annotations{ReadOnly: true, Destructive: true})}}, "not destructive"},
		{"write tool read-only", Toolset{Name: "s", Write: []Tool{tool(Annotations{ReadOnly: true})}}, "is annotated readOnly"},
		{"duplicate", Toolset{Name: "s", Write: []Tool{tool(Annotations{}), tool(Annotations{})}}, "duplicate"},
		{"no dotted name", Toolset{Name: "s", Write: []Tool{{Name: "a", Args: 1, Result: 1, Handler: h}}}, "lacks a name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]Toolset{tt.set})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.want)
			}
			if _, err := NewRegistry([]Toolset{tt.set}, Options{}, nil); err == nil {
				t.Fatal("NewRegistry accepted an invalid catalogue")
			}
		})
	}
}

func TestRegistryOptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		has, lack []string
	}{
		{"default all underscore", Options{}, []string{"lockd_lock_acquire", "lockd_get", "lockd_hint"}, []string{"lockd.lock.acquire"}},
		{"dotted", Options{Dotted: true}, []string{"lockd.lock.acquire", "lockd.state.write_stream.begin"}, []string{"lockd_lock_acquire"}},
		{"read-only", Options{ReadOnly: true}, []string{"lockd_get", "lockd_lock_status"}, []string{"lockd_lock_acquire", "lockd_state_put"}},
		{"toolsets", Options{Toolsets: []string{"lock"}}, []string{"lockd_lock_acquire"}, []string{"lockd_get", "lockd_hint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRegistry(Catalogue(), tt.opts, committedSchemas)
			if err != nil {
				t.Fatal(err)
			}
			st, err := r.ServerTools(&Deps{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range st {
				names = append(names, s.Tool.Name)
			}
			for _, n := range tt.has {
				if !slices.Contains(names, n) {
					t.Errorf("%s missing from %v", n, names)
				}
			}
			for _, n := range tt.lack {
				if slices.Contains(names, n) {
					t.Errorf("%s advertised", n)
				}
			}
		})
	}
	if _, err := NewRegistry(Catalogue(), Options{Toolsets: []string{"nope"}}, committedSchemas); err == nil {
		t.Fatal("unknown toolset accepted")
	}
}

func TestAliasHookAcceptsBothSpellings(t *testing.T) {
	for _, dotted := range []bool{false, true} {
		r, err := NewRegistry(Catalogue(), Options{Dotted: dotted}, committedSchemas)
		if err != nil {
			t.Fatal(err)
		}
		want := "lockd_lock_acquire"
		if dotted {
			want = "lockd.lock.acquire"
		}
		for _, call := range []string{"lockd_lock_acquire", "lockd.lock.acquire"} {
			req := &mcp.CallToolRequest{}
			req.Params.Name = call
			r.AliasHook()(context.Background(), 1, req)
			if req.Params.Name != want {
				t.Errorf("dotted=%v: %s resolved to %s, want %s", dotted, call, req.Params.Name, want)
			}
		}
	}
}

func TestMergePatch(t *testing.T) {
	tests := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[1]}`, `{"a":[2]}`, `{"a":[2]}`},
		{`["a"]`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`null`, `{"a":{"b":null}}`, `{"a":{}}`},
	}
	for _, tt := range tests {
		var target, patch any
		_ = json.Unmarshal([]byte(tt.target), &target)
		_ = json.Unmarshal([]byte(tt.patch), &patch)
		got, _ := json.Marshal(MergePatch(target, patch))
		if string(got) != tt.want {
			t.Errorf("MergePatch(%s, %s) = %s, want %s", tt.target, tt.patch, got, tt.want)
		}
	}
}

// TestToolsListBudget prints the compact tools/list size, which sits in every
// agent's context: ≤ 30,000 bytes for all tools and ≤ 15,000 for
// lock,state,query.
func TestToolsListBudget(t *testing.T) {
	tests := []struct {
		name     string
		toolsets []string
		budget   int
	}{
		{"all", nil, 30000},
		{"lock,state,query", []string{"lock", "state", "query"}, 15000},
	}
	for _, tt := range tests {
		r, err := NewRegistry(Catalogue(), Options{Toolsets: tt.toolsets}, committedSchemas)
		if err != nil {
			t.Fatal(err)
		}
		st, err := r.ServerTools(&Deps{})
		if err != nil {
			t.Fatal(err)
		}
		res := mcp.ListToolsResult{}
		for _, s := range st {
			res.Tools = append(res.Tools, s.Tool)
		}
		data, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("tools/list %-16s %2d tools %6d bytes (budget %d)", tt.name, len(res.Tools), len(data), tt.budget)
		if len(data) > tt.budget {
			t.Errorf("tools/list for %s is %d bytes, over the %d budget", tt.name, len(data), tt.budget)
		}
	}
}
