package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Annotations are the behaviour hints advertised with a tool. openWorldHint is
// always false: every tool talks to one lockd endpoint and nothing else.
type Annotations struct {
	ReadOnly    bool
	Destructive bool
	Idempotent  bool
}

// Handler runs one tool call. It returns a result, never a Go error: failures
// are isError results that tell the agent what to do next.
type Handler func(ctx context.Context, d *Deps, req mcp.CallToolRequest) *mcp.CallToolResult

// Tool is one tool as data: its names, its description, its truthful
// annotations, zero values of its args and result types (the schema sources)
// and its handler.
type Tool struct {
	// Name is the advertised underscore spelling, e.g. lockd_lock_acquire.
	Name string
	// Dotted is the lockd MCP facade spelling, e.g. lockd.lock.acquire.
	Dotted      string
	Description string
	Annotations Annotations
	Args        any
	Result      any
	Handler     Handler
	// LargeArgs names string arguments that may carry large payloads; a
	// transport may lift them out of the message (see LiftedArgs).
	LargeArgs []string
}

// liftable returns t with args declared as large string arguments.
func (t Tool) liftable(args ...string) Tool {
	t.LargeArgs = args
	return t
}

// Toolset is a named group of read tools and write tools. Which list a tool
// sits in is its kind; Validate refuses annotations that disagree.
type Toolset struct {
	Name        string
	Description string
	Read        []Tool
	Write       []Tool
}

// Catalogue returns every toolset this package implements, in the order they
// are advertised.
func Catalogue() []Toolset {
	return []Toolset{
		helpToolset(),
		lockToolset(),
		stateToolset(),
		streamsToolset(),
		namespaceToolset(),
		queryToolset(),
	}
}

// Options are the process-wide registry choices: which toolsets, read-only
// mode and the advertised spelling.
type Options struct {
	// Toolsets selects toolsets by name; empty means all.
	Toolsets []string
	// ReadOnly advertises only read tools.
	ReadOnly bool
	// Dotted advertises lockd.lock.acquire instead of lockd_lock_acquire.
	Dotted bool
}

// SchemaSource returns the committed input and output schema of a tool.
type SchemaSource func(name string) (input, output json.RawMessage, err error)

// Registry is the validated catalogue with the options applied.
type Registry struct {
	opts    Options
	enabled []Tool
	// alias maps every accepted spelling (underscore and dotted) of an enabled
	// tool to its advertised name.
	alias   map[string]string
	schemas SchemaSource
	sets    []Toolset
}

// NewRegistry validates sets and applies opts. It fails when a tool's
// annotations contradict its kind, when names collide, when an unknown
// toolset is requested or when a tool has no committed schema.
func NewRegistry(sets []Toolset, opts Options, schemas SchemaSource) (*Registry, error) {
	if err := Validate(sets); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, s := range sets {
		known[s.Name] = true
	}
	want := map[string]bool{}
	for _, name := range opts.Toolsets {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if name == "all" {
			clear(want)
			break
		}
		if !known[name] {
			return nil, fmt.Errorf("unknown toolset %q (known: %s)", name, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
		want[name] = true
	}
	r := &Registry{opts: opts, alias: map[string]string{}, schemas: schemas, sets: sets}
	for _, s := range sets {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		tools := slices.Clone(s.Read)
		if !opts.ReadOnly {
			tools = append(tools, s.Write...)
		}
		for _, t := range tools {
			adv := t.Name
			if opts.Dotted {
				adv = t.Dotted
			}
			if schemas != nil {
				if _, _, err := schemas(t.Name); err != nil {
					return nil, fmt.Errorf("tool %s: %w (run go generate ./...)", t.Name, err)
				}
			}
			r.alias[t.Name] = adv
			r.alias[t.Dotted] = adv
			r.enabled = append(r.enabled, t)
		}
	}
	return r, nil
}

// Validate checks the catalogue: unique names, both spellings present, and
// annotations that agree with the list a tool sits in.
func Validate(sets []Toolset) error {
	seen := map[string]bool{}
	var errs []error
	check := func(set string, t Tool, read bool) {
		for _, n := range []string{t.Name, t.Dotted} {
			if n == "" {
				errs = append(errs, fmt.Errorf("toolset %s: tool %q lacks a name or dotted name", set, t.Name))
				continue
			}
			if seen[n] {
				errs = append(errs, fmt.Errorf("toolset %s: duplicate tool name %q", set, n))
			}
			seen[n] = true
		}
		switch {
		case read && (!t.Annotations.ReadOnly || t.Annotations.Destructive):
			errs = append(errs, fmt.Errorf("toolset %s: read tool %s must be annotated readOnly and not destructive", set, t.Name))
		case !read && t.Annotations.ReadOnly:
			errs = append(errs, fmt.Errorf("toolset %s: write tool %s is annotated readOnly", set, t.Name))
		}
		if t.Handler == nil || t.Args == nil || t.Result == nil {
			errs = append(errs, fmt.Errorf("toolset %s: tool %s needs a handler, args and result type", set, t.Name))
		}
	}
	for _, s := range sets {
		for _, t := range s.Read {
			check(s.Name, t, true)
		}
		for _, t := range s.Write {
			check(s.Name, t, false)
		}
	}
	return errors.Join(errs...)
}

// Tools returns the enabled tools in advertised order.
func (r *Registry) Tools() []Tool { return slices.Clone(r.enabled) }

// Toolsets returns the names of the toolsets with at least one enabled tool.
func (r *Registry) Toolsets() []string {
	var out []string
	for _, s := range r.sets {
		for _, t := range r.enabled {
			if slices.ContainsFunc(append(slices.Clone(s.Read), s.Write...), func(x Tool) bool { return x.Name == t.Name }) {
				out = append(out, s.Name)
				break
			}
		}
	}
	return out
}

// Options returns the options the registry was built with.
func (r *Registry) Options() Options { return r.opts }

// Resolve maps either spelling of an enabled tool to its advertised name.
func (r *Registry) Resolve(name string) (string, bool) {
	adv, ok := r.alias[name]
	return adv, ok
}

// ServerTools builds the mcp-go tools with the committed schemas and the
// handlers bound to d.
func (r *Registry) ServerTools(d *Deps) ([]server.ServerTool, error) {
	out := make([]server.ServerTool, 0, len(r.enabled))
	for _, t := range r.enabled {
		in, outSchema, err := r.schemas(t.Name)
		if err != nil {
			return nil, fmt.Errorf("tool %s: %w", t.Name, err)
		}
		name, _ := r.Resolve(t.Name)
		mt := mcp.NewToolWithRawSchema(name, t.Description, in)
		mt.RawOutputSchema = outSchema
		f := false
		mt.Annotations = mcp.ToolAnnotation{
			ReadOnlyHint:    boolPtr(t.Annotations.ReadOnly),
			DestructiveHint: boolPtr(t.Annotations.Destructive),
			IdempotentHint:  boolPtr(t.Annotations.Idempotent),
			OpenWorldHint:   &f,
		}
		h := t.Handler
		out = append(out, server.ServerTool{
			Tool: mt,
			Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return h(ctx, d, req), nil
			},
		})
	}
	return out, nil
}

// AliasHook rewrites a call made with the other spelling of a tool name to
// the advertised one before mcp-go looks the tool up, so prompts written for
// either spelling work in both modes.
func (r *Registry) AliasHook() server.OnBeforeCallToolFunc {
	return func(_ context.Context, _ any, req *mcp.CallToolRequest) {
		if adv, ok := r.alias[req.Params.Name]; ok {
			req.Params.Name = adv
		}
	}
}

func boolPtr(b bool) *bool { return &b }
