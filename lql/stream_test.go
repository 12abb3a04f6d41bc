package lql

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Examples 137-161 of spec §10.2: projection, streaming and file values.

func TestProjectionExamples(t *testing.T) {
	project := func(t *testing.T, doc string, paths []string, max int) (string, bool, error) {
		t.Helper()
		plan, err := NewProjectionPlan(paths)
		if err != nil {
			return "", false, err
		}
		var out bytes.Buffer
		found, err := ProjectFields(t.Context(), strings.NewReader(doc), &out, plan, ProjectOptions{MaxOutputBytes: max})
		return out.String(), found, err
	}
	t.Run("ex137", func(t *testing.T) {
		got, found, err := project(t, `{"id":"a","meta":{"trace":9,"ignore":1},"items":[{"sku":"A"},{"sku":"B"}],"payload":"x"}`, []string{"/id", "/meta/trace", "/items/1/sku"}, 0)
		want := `{"id":"a","items":[null,{"sku":"B"}],"meta":{"trace":9}}`
		if err != nil || !found || got != want {
			t.Fatalf("got %s %v %v, want %s", got, found, err, want)
		}
	})
	t.Run("ex138", func(t *testing.T) {
		got, found, err := project(t, `{"id":"a"}`, []string{"/missing"}, 0)
		if err != nil || found || got != "" {
			t.Fatalf("got %q %v %v", got, found, err)
		}
	})
	t.Run("ex139", func(t *testing.T) {
		got, err := ParseProjectionPaths([]string{" /id ", "", "/meta/trace", "/id"})
		if err != nil || strings.Join(got, ",") != "/id,/meta/trace" {
			t.Fatalf("got %v %v", got, err)
		}
	})
	t.Run("ex140", func(t *testing.T) {
		for _, tc := range []struct {
			paths []string
			want  string
		}{
			{[]string{"/"}, `field path "/" refers to document root`},
			{[]string{"/0/id"}, `field path "/0/id" must not start with an array index`},
			{[]string{"", " "}, "no valid field paths provided"},
			{[]string{"id"}, `invalid json pointer "id"`},
			{[]string{"/a/1", "/a/01"}, "field path conflict at array index 1"},
		} {
			if _, err := ParseProjectionPaths(tc.paths); err == nil || err.Error() != tc.want {
				t.Errorf("%q: got %v, want %q", tc.paths, err, tc.want)
			}
		}
	})
	codeOf := func(err error) string {
		var se *StreamError
		if errors.As(err, &se) {
			return se.Code
		}
		return fmt.Sprintf("not a StreamError: %v", err)
	}
	t.Run("ex141", func(t *testing.T) {
		_, _, err := project(t, `7`, []string{"/id"}, 0)
		if codeOf(err) != CodeInvalidBody || !strings.Contains(err.Error(), "JSON objects") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ex142", func(t *testing.T) {
		_, _, err := project(t, `{"id":"a"} {"id":"b"}`, []string{"/id"}, 0)
		if codeOf(err) != CodeInvalidBody || !strings.Contains(err.Error(), "trailing") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ex143", func(t *testing.T) {
		_, _, err := project(t, `{"meta":{"trace":1}}`, []string{"/meta", "/meta/trace"}, 0)
		if err == nil || err.Error() != `field path conflict between "/meta" and "/meta/trace"` {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ex144", func(t *testing.T) {
		_, _, err := project(t, `{"payload":"`+strings.Repeat("x", 256)+`"}`, []string{"/payload"}, 32)
		if codeOf(err) != CodeDocumentTooLarge {
			t.Fatalf("got %v", err)
		}
	})
}

func mustSelector(t testing.TB, s string) Selector {
	t.Helper()
	sel, err := ParseSelectorString(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return sel
}

func TestQueryStreamExamples(t *testing.T) {
	run := func(t *testing.T, input, sel string, opts QueryOptions) ([]bool, QueryResult, error) {
		var got []bool
		user := opts.OnDecision
		opts.OnDecision = func(d Decision) error {
			got = append(got, d.Matched)
			if user != nil {
				return user(d)
			}
			return nil
		}
		res, err := QueryStream(t.Context(), strings.NewReader(input), mustSelector(t, sel), opts)
		return got, res, err
	}
	t.Run("ex145", func(t *testing.T) {
		got, res, err := run(t, `{"id":"a","status":"open"}{"id":"b","status":"closed"}{"id":"c","status":"open"}`, `/status="open"`, QueryOptions{})
		if err != nil || fmt.Sprint(got) != "[true false true]" || res.Candidates != 3 || res.Matched != 2 || res.StoppedEarly {
			t.Fatalf("got %v %+v %v", got, res, err)
		}
	})
	t.Run("ex146", func(t *testing.T) {
		_, res, err := run(t, `{"id":"a"}{"id":"b"}{"id":"c"}`, ``, QueryOptions{MaxMatches: 2})
		if err != nil || !res.StoppedEarly || res.StopReason != StopMatches || res.Candidates != 2 || res.Matched != 2 {
			t.Fatalf("got %+v %v", res, err)
		}
	})
	t.Run("ex147", func(t *testing.T) {
		_, res, err := run(t, `{"id":"a"}{"id":"b"}`, ``, QueryOptions{MaxMatches: 1, MaxCandidates: 1, MaxBytesRead: 1})
		if err != nil || res.StopReason != StopMatches {
			t.Fatalf("got %+v %v", res, err)
		}
	})
	t.Run("ex148", func(t *testing.T) {
		_, res, err := run(t, `{"id":"a"}{"id":"b"}`, `/id="missing"`, QueryOptions{MaxCandidates: 1, MaxBytesRead: 1})
		if err != nil || res.StopReason != StopCandidate {
			t.Fatalf("got %+v %v", res, err)
		}
	})
	t.Run("ex149", func(t *testing.T) {
		_, res, err := run(t, `{"id":"a"}{"id":"b"}`, ``, QueryOptions{OnValue: func(Decision, []byte) error {
			return fmt.Errorf("enough: %w", ErrStop)
		}})
		if err != nil || !res.StoppedEarly || res.StopReason != StopCallback || res.Candidates != 1 {
			t.Fatalf("got %+v %v", res, err)
		}
	})
	t.Run("ex150", func(t *testing.T) {
		var order []string
		_, _, err := run(t, `{"id":"a","status":"open"}{"id":"b","status":"closed"}`, `/status="open"`, QueryOptions{
			MatchedOnly: true,
			OnDecision:  func(d Decision) error { order = append(order, fmt.Sprintf("decision(%v)", d.Matched)); return nil },
			OnValue: func(d Decision, b []byte) error {
				order = append(order, fmt.Sprintf("value(%v,%s)", d.Matched, b))
				return nil
			},
		})
		want := `[decision(true) value(true,{"id":"a","status":"open"}) decision(false)]`
		if err != nil || fmt.Sprint(order) != want {
			t.Fatalf("got %v %v, want %s", order, err, want)
		}
	})
	t.Run("ex151", func(t *testing.T) {
		got, res, err := run(t, "{\"id\":\"a\",\"n\":1}\n{\"id\":\"b\",\"n\":-2.5e+3}\n[{\"id\":\"c\",\"n\":3},[{\"id\":\"d\",\"n\":4}],true,null,\"x\"]", ``, QueryOptions{})
		if err != nil || res.Candidates != 7 || res.Matched != 7 || len(got) != 7 {
			t.Fatalf("got %v %+v %v", got, res, err)
		}
	})
	t.Run("ex152", func(t *testing.T) {
		for _, in := range []string{`[1,2,]`, `01`, `tru`, `{"id":1`, `{"a":"\x01"}`, `{"a":"\q"}`, `{"a" 1}`, `[1 2]`} {
			_, _, err := run(t, in, ``, QueryOptions{})
			var se *StreamError
			if !errors.As(err, &se) || se.Code != CodeInvalidBody {
				t.Errorf("%q: got %v, want invalid_body", in, err)
			}
		}
	})
	t.Run("ex161", func(t *testing.T) {
		sel := mustSelector(t, `/voucher/lines/10/amount>=3000`)
		arr := strings.Repeat(`{"amount":1},`, 10) + `{"amount":3600}`
		for _, doc := range []string{`{"voucher":{"lines":{"10":{"amount":3500}}}}`, `{"voucher":{"lines":[` + arr + `]}}`} {
			if m, err := MatchReader(sel, strings.NewReader(doc)); err != nil || !m {
				t.Errorf("%s: got %v %v", doc, m, err)
			}
			if !Matches(sel, decodeDoc(t, doc)) {
				t.Errorf("%s: Matches false", doc)
			}
		}
	})
	t.Run("invalid selector", func(t *testing.T) {
		_, err := QueryStream(t.Context(), strings.NewReader(`{}`), Selector{Exists: "meta"}, QueryOptions{})
		var se *StreamError
		if !errors.As(err, &se) || se.Code != CodeInvalidSelector {
			t.Fatalf("got %v", err)
		}
	})
}

func mutateString(t *testing.T, input string, exprs []string, opts ParseMutationsOptions, mode MutateMode) (string, error) {
	t.Helper()
	muts, err := ParseMutationsWithOptions(exprs, exampleNow, opts)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	_, err = MutateStream(t.Context(), strings.NewReader(input), &out, muts, MutateOptions{Mode: mode})
	return out.String(), err
}

func TestMutateStreamExamples(t *testing.T) {
	t.Run("ex153", func(t *testing.T) {
		got, err := mutateString(t, "[{\"id\":\"a\",\"status\":\"new\"},[{\"id\":\"b\",\"status\":\"new\"}],7]\n{\"id\":\"c\",\"status\":\"new\"}\ntrue", []string{"/status=ready"}, ParseMutationsOptions{}, MutateAuto)
		want := "{\"id\":\"a\",\"status\":\"ready\"}\n{\"id\":\"b\",\"status\":\"ready\"}\n7\n{\"id\":\"c\",\"status\":\"ready\"}\ntrue\n"
		if err != nil || got != want {
			t.Fatalf("got %q %v, want %q", got, err, want)
		}
	})
	t.Run("ex154", func(t *testing.T) {
		_, err := mutateString(t, `{"id":1`, []string{"/status=ready"}, ParseMutationsOptions{}, MutateAuto)
		var se *StreamError
		if !errors.As(err, &se) || se.Code != CodeInvalidBody {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("single object mode", func(t *testing.T) {
		for in, want := range map[string]string{
			`{}{}`: "mutate stream mode requires exactly one top-level JSON value",
			`[1]`:  "mutate stream mode requires top-level JSON object root",
			``:     "mutate stream mode requires exactly one top-level JSON value",
		} {
			_, err := mutateString(t, in, []string{"/a=1"}, ParseMutationsOptions{}, MutateSingleObject)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: got %v, want %q", in, err, want)
			}
		}
	})
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	opens := map[string]int{}
	files := ParseMutationsOptions{Files: &MutationFileValueResolver{BaseDir: dir, Open: func(p string) (io.ReadCloser, error) {
		opens[filepath.Base(p)]++
		return os.Open(p)
	}}}
	write("blob.txt", []byte("hello\n\"quoted\""))
	write("blob.bin", []byte{0, 1, 2, 'a'})
	write("text.txt", []byte("hello world"))
	write("bin2.bin", []byte{0, 0xff, 1})
	write("bad.txt", []byte{0xff, 0xfe})
	write("nul.txt", []byte{'a', 0, 'b'})
	tests := []struct {
		name, doc string
		exprs     []string
		want      string
	}{
		{"ex155", `{"id":"a"}`, []string{"textfile:/meta/blob=blob.txt"}, `{"id":"a","meta":{"blob":"hello\n\"quoted\""}}` + "\n"},
		{"ex156", `{"id":"a","payload":"old"}`, []string{"base64file:/payload=blob.bin"}, `{"id":"a","payload":"AAECYQ=="}` + "\n"},
		{"ex157a", `{"payload":"old"}`, []string{"file:/payload=text.txt"}, `{"payload":"hello world"}` + "\n"},
		{"ex157b", `{"payload":"old"}`, []string{"file:/payload=bin2.bin"}, `{"payload":"AP8B"}` + "\n"},
		{"ex158", `{"payload":"old"}`, []string{"textfile:/payload=bad.txt"}, "err:invalid UTF-8"},
		{"ex159", `{"payload":"old"}`, []string{"textfile:/payload=nul.txt"}, "err:NUL byte"},
		{"ex160", `{"payload":"old"}`, []string{"textfile:/payload=text.txt", "/payload/version=1"}, `{"payload":{"version":1}}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mutateString(t, tc.doc, tc.exprs, files, MutateSingleObject)
			if strings.HasPrefix(tc.want, "err:") {
				if err == nil || !strings.Contains(err.Error(), tc.want[4:]) {
					t.Fatalf("got %q %v, want error containing %q", got, err, tc.want[4:])
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
	if opens["blob.txt"] != 1 {
		t.Errorf("blob.txt opened %d times, want once", opens["blob.txt"])
	}
	t.Run("file paths", func(t *testing.T) {
		r := &MutationFileValueResolver{HomeDir: func() (string, error) { return "/home/u", nil }}
		for in, want := range map[string]string{"~/x": "/home/u/x", "~": "/home/u", "'/abs/../x.bin'": "/x.bin"} {
			if got, err := r.resolvePath(in); err != nil || got != want {
				t.Errorf("%s: got %q %v, want %q", in, got, err, want)
			}
		}
		if _, err := r.resolvePath("rel.txt"); err == nil || !strings.Contains(err.Error(), "requires file value base dir") {
			t.Errorf("relative without base: %v", err)
		}
		if _, err := ParseMutations([]string{"file:/a=x.txt"}, exampleNow); err == nil || err.Error() != "file-backed mutations are disabled" {
			t.Errorf("disabled: %v", err)
		}
	})
}
