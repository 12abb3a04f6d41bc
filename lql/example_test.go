package lql_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lockd-mcp/lockd-mcp/lql"
)

func ExampleParseSelectorString() {
	sel, err := lql.ParseSelectorString(`/status="open",in{field=/tags[],any=urgent|q3}`)
	if err != nil {
		panic(err)
	}
	ast, _ := json.Marshal(sel)
	fmt.Println(string(ast))
	// Output:
	// {"and":[{"eq":{"field":"/status","value":"open"}},{"in":{"field":"/tags[]","any":["urgent","q3"]}}]}
}

func ExampleMatches() {
	sel, _ := lql.ParseSelectorString(`icontains{field=/...,value=renewal},/progress>=10`)
	dec := json.NewDecoder(strings.NewReader(`{"progress":42,"notes":{"body":"Contract RENEWAL due"}}`))
	dec.UseNumber() // compare numbers by their source text, as lockd does
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		panic(err)
	}
	fmt.Println(lql.Matches(sel, doc))
	// Output: true
}

func ExampleMutateWithTime() {
	doc := map[string]any{"state": map[string]any{"retries": 1, "legacy": true}}
	now := time.Date(2026, 3, 12, 10, 0, 0, 0, time.UTC)
	err := lql.MutateWithTime(doc, now, "/state/status=running", "/state/retries++", "rm:/state/legacy", "time:/state/updated=NOW")
	if err != nil {
		panic(err)
	}
	out, _ := json.Marshal(doc)
	fmt.Println(string(out))
	// Output: {"state":{"retries":2,"status":"running","updated":"2026-03-12T10:00:00Z"}}
}

func ExampleMutateStream() {
	muts, err := lql.ParseMutations([]string{"/status=done", "/items[]/qty=+1", "/meta{/by=alice}"}, time.Now())
	if err != nil {
		panic(err)
	}
	in := strings.NewReader(`{"status":"open", "items":[{"qty":1.50},{"qty":2}], "n":1e3}`)
	if _, err := lql.MutateStream(context.Background(), in, os.Stdout, muts, lql.MutateOptions{Mode: lql.MutateSingleObject}); err != nil {
		panic(err)
	}
	// Output: {"status":"done","items":[{"qty":2.5},{"qty":3}],"n":1e3,"meta":{"by":"alice"}}
}

func ExampleQueryStream() {
	sel, _ := lql.ParseSelectorString(`/status=open`)
	in := strings.NewReader(`{"id":"a","status":"open"}
{"id":"b","status":"closed"}
[{"id":"c","status":"open"}]`)
	res, err := lql.QueryStream(context.Background(), in, sel, lql.QueryOptions{
		OnDecision: func(d lql.Decision) error {
			fmt.Printf("offset %d matched %v\n", d.Offset, d.Matched)
			return nil
		},
	})
	fmt.Println(res.Matched, err)
	// Output:
	// offset 0 matched true
	// offset 27 matched false
	// offset 57 matched true
	// 2 <nil>
}

func ExampleParseError() {
	_, err := lql.ParseSelectorString(`/status=open,and.foo.eq{field=/a,value=1}`)
	var pe *lql.ParseError
	if errors.As(err, &pe) {
		fmt.Println(pe.Error())
		fmt.Println(pe.Detail())
	}
	// Output:
	// selector path "and.foo.eq" has unexpected segment "foo"
	// selector path "and.foo.eq" has unexpected segment "foo" (in "and.foo.eq{field=/a,value=1}" at offset 13)
}
