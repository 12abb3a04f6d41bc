package lql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MutationKind says what a mutation does to its target.
type MutationKind uint8

const (
	// MutationSet writes Value (or a file's contents) at the path.
	MutationSet MutationKind = iota
	// MutationIncrement adds Delta to a numeric value (creating 0+Delta).
	MutationIncrement
	// MutationRemove deletes the member (or nulls an array element reached
	// through a wildcard).
	MutationRemove
)

// Mutation is one parsed edit (spec §5).
type Mutation struct {
	// Path is the JSON Pointer the mutation addresses, after brace
	// expansion.
	Path string
	Kind MutationKind
	// Value is the typed value of a set: nil, bool, int64, float64 or
	// string.
	Value any
	// Delta is the increment amount.
	Delta float64
	// File, when non-nil, makes a set take its value from a file.
	File *FileValue

	segs []segment
	wild bool
}

// ParseMutationsOptions configures ParseMutationsWithOptions.
type ParseMutationsOptions struct {
	// Files enables file:, textfile: and base64file: values and says how
	// to resolve and open them. Nil refuses them with
	// "file-backed mutations are disabled", which is what a server must
	// do.
	Files *MutationFileValueResolver
}

// ParseMutations parses a list of mutation expressions, one per element
// (spec §5.1): elements are not split at commas, only brace bodies are.
// now is the value of NOW in time: mutations. Errors are *ParseError.
func ParseMutations(list []string, now time.Time) ([]Mutation, error) {
	return ParseMutationsWithOptions(list, now, ParseMutationsOptions{})
}

// ParseMutationsWithOptions is ParseMutations with file-value options.
func ParseMutationsWithOptions(list []string, now time.Time, opts ParseMutationsOptions) ([]Mutation, error) {
	if len(list) == 0 {
		return nil, &ParseError{Pos: -1, Msg: "no field mutations provided"}
	}
	var out []Mutation
	for _, raw := range list {
		e := strings.TrimSpace(raw)
		if e == "" {
			continue
		}
		muts, err := parseMutation(e, now, &opts)
		if err != nil {
			return nil, &ParseError{Input: raw, Expr: e, Pos: strings.Index(raw, e), Msg: err.Error()}
		}
		out = append(out, muts...)
	}
	if len(out) == 0 {
		return nil, &ParseError{Pos: -1, Msg: "no valid field mutations parsed"}
	}
	return out, nil
}

// ParseMutationsString splits s at top-level commas and newlines (like a
// selector string) and parses each piece.
func ParseMutationsString(s string, now time.Time) ([]Mutation, error) {
	list, err := splitMutationStrings([]string{s})
	if err != nil {
		return nil, err
	}
	return ParseMutations(list, now)
}

func splitMutationStrings(exprs []string) ([]string, error) {
	var list []string
	for _, s := range exprs {
		if err := splitTopLevel(s, func(p piece) { list = append(list, p.text) }); err != nil {
			return nil, &ParseError{Input: s, Pos: -1, Msg: err.Error()}
		}
	}
	if len(list) == 0 && len(exprs) > 0 {
		list = append(list, "")
	}
	return list, nil
}

var (
	filePrefixes   = [...]string{"file:", "textfile:", "base64file:"}
	removePrefixes = [...]string{"rm:", "remove:", "delete:", "del:"}
)

// parseMutation parses one expression, expanding brace shorthand (spec
// §5.2). Prefixes are matched case-sensitively in the order file, remove,
// time.
func parseMutation(expr string, now time.Time, opts *ParseMutationsOptions) ([]Mutation, error) {
	body := expr
	fileMode := FileMode(-1)
	for i, p := range filePrefixes {
		if strings.HasPrefix(body, p) {
			fileMode, body = FileMode(i), body[len(p):]
			break
		}
	}
	remove := false
	for _, p := range removePrefixes {
		if strings.HasPrefix(body, p) {
			remove, body = true, body[len(p):]
			break
		}
	}
	timed := false
	if strings.HasPrefix(body, "time:") {
		timed = true
		if remove {
			return nil, fmt.Errorf("time-prefixed mutation cannot be combined with delete/remove (%s)", body)
		}
		body = body[len("time:"):]
	}
	if remove {
		if fileMode >= 0 {
			return nil, fmt.Errorf("file-backed mutation cannot be combined with delete/remove (%s)", body)
		}
		path := strings.TrimSpace(body)
		if path == "" {
			return nil, fmt.Errorf("remove mutation missing key path")
		}
		return newMutation(path, Mutation{Kind: MutationRemove})
	}
	if fileMode >= 0 && timed {
		return nil, fmt.Errorf("file-backed mutation cannot be combined with time: (%s)", body)
	}
	if strings.HasSuffix(body, "++") || strings.HasSuffix(body, "--") {
		if timed {
			return nil, fmt.Errorf("time-prefixed mutation does not support ++ (%s)", expr)
		}
		if fileMode >= 0 {
			return nil, fmt.Errorf("file-backed mutation cannot be combined with ++ (%s)", expr)
		}
		path := strings.TrimSpace(body[:len(body)-2])
		if path == "" {
			return nil, fmt.Errorf("increment mutation missing key path")
		}
		delta := 1.0
		if strings.HasSuffix(body, "--") {
			delta = -1
		}
		return newMutation(path, Mutation{Kind: MutationIncrement, Delta: delta})
	}
	if open := strings.IndexByte(body, '{'); open > 0 && strings.HasSuffix(body, "}") &&
		strings.TrimSpace(body[:open]) != "" && !strings.Contains(body[:open], "=") {
		return parseBraceMutation(body, open, now, opts)
	}
	eq := strings.IndexByte(body, '=')
	if eq < 0 {
		return nil, fmt.Errorf("invalid mutation %q (expected key=value)", expr)
	}
	path := strings.TrimSpace(body[:eq])
	if path == "" {
		return nil, fmt.Errorf("mutation %q missing key path", expr)
	}
	raw := strings.TrimSpace(body[eq+1:])
	switch {
	case fileMode >= 0:
		if opts.Files == nil {
			return nil, fmt.Errorf("file-backed mutations are disabled")
		}
		resolved, err := opts.Files.resolvePath(raw)
		if err != nil {
			return nil, err
		}
		return newMutation(path, Mutation{Kind: MutationSet, File: &FileValue{Mode: fileMode, Path: resolved, opener: opts.Files}})
	case timed:
		v, err := parseTimeValue(raw, now)
		if err != nil {
			return nil, err
		}
		return newMutation(path, Mutation{Kind: MutationSet, Value: v})
	}
	if len(raw) > 1 && (raw[0] == '+' || raw[0] == '-') {
		if d, err := strconv.ParseFloat(raw, 64); err == nil {
			switch {
			case d == 0:
				return nil, fmt.Errorf("increment mutation requires non-zero delta")
			case math.IsInf(d, 0) || math.IsNaN(d):
				return nil, fmt.Errorf("increment mutation requires a finite delta (%s)", raw)
			}
			return newMutation(path, Mutation{Kind: MutationIncrement, Delta: d})
		}
	}
	v, err := typedValue(raw)
	if err != nil {
		return nil, err
	}
	return newMutation(path, Mutation{Kind: MutationSet, Value: v})
}

// parseBraceMutation expands "/prefix{sub,sub}" (spec §5.8).
func parseBraceMutation(body string, open int, now time.Time, opts *ParseMutationsOptions) ([]Mutation, error) {
	prefix := strings.TrimSpace(body[:open])
	if _, err := mutationSegments(prefix); err != nil {
		return nil, err
	}
	inner := body[open+1 : len(body)-1]
	if strings.TrimSpace(inner) == "" {
		return nil, fmt.Errorf("brace mutation %q empty", body)
	}
	var subs []string
	if err := splitTopLevel(inner, func(p piece) { subs = append(subs, p.text) }); err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return nil, fmt.Errorf("brace mutation %q produced no expressions", body)
	}
	var out []Mutation
	for _, s := range subs {
		muts, err := parseMutation(s, now, opts)
		if err != nil {
			return nil, err
		}
		for _, m := range muts {
			full, err := newMutation(prefix+m.Path, m)
			if err != nil {
				return nil, err
			}
			out = append(out, full...)
		}
	}
	return out, nil
}

// newMutation validates path and fills the derived fields of m.
func newMutation(path string, m Mutation) ([]Mutation, error) {
	segs, err := mutationSegments(path)
	if err != nil {
		return nil, err
	}
	m.Path = strings.TrimSpace(path)
	m.segs = segs
	m.wild = hasWildcard(segs)
	if m.wild && segs[len(segs)-1].kind == segDeep {
		// A trailing "..." targets every member and element below the
		// node, recursively: "..." then one more step of "**".
		m.segs = append(m.segs, segment{kind: segAny, idx: -1})
	}
	return []Mutation{m}, nil
}

// mutationSegments checks a mutation path (spec §5.3).
func mutationSegments(path string) ([]segment, error) {
	p := strings.TrimSpace(path)
	switch {
	case p == "":
		return nil, fmt.Errorf("path empty")
	case p[0] != '/':
		return nil, fmt.Errorf("mutation path %q must start with '/'", p)
	case p == "/":
		return nil, fmt.Errorf("path %q refers to document root", p)
	}
	segs, _ := parseSegments(p)
	return segs, nil
}

// parseTimeValue handles the value of a time: mutation (spec §5.7).
func parseTimeValue(raw string, now time.Time) (string, error) {
	v, _ := unquote(raw)
	v = strings.TrimSpace(v)
	var t time.Time
	if strings.EqualFold(v, "now") {
		t = now
	} else {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return "", fmt.Errorf("invalid time literal %q", raw)
		}
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}

// typedValue types a set value (spec §5.4). Quotes do not force a string.
// Non-finite numbers (inf, nan) are refused because they cannot be
// serialised.
func typedValue(raw string) (any, error) {
	v, _ := unquote(raw)
	switch {
	case strings.EqualFold(v, "true"):
		return true, nil
	case strings.EqualFold(v, "false"):
		return false, nil
	case strings.EqualFold(v, "null"):
		return nil, nil
	}
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return i, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("mutation value %q is not a finite number", raw)
		}
		return f, nil
	}
	return v, nil
}

// Mutations parses expressions the way Mutate does: each string is split at
// top-level commas and newlines first.
func Mutations(now time.Time, exprs ...string) ([]Mutation, error) {
	list, err := splitMutationStrings(exprs)
	if err != nil {
		return nil, err
	}
	return ParseMutations(list, now)
}

// Mutate applies mutation expressions to doc with the current time; each
// expression is split at top-level commas and newlines.
func Mutate(doc map[string]any, exprs ...string) error {
	return MutateWithTime(doc, time.Now(), exprs...)
}

// MutateWithTime is Mutate with an explicit NOW.
func MutateWithTime(doc map[string]any, now time.Time, exprs ...string) error {
	muts, err := Mutations(now, exprs...)
	if err != nil {
		return err
	}
	return ApplyMutations(doc, muts)
}
