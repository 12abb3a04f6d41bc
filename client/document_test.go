package client_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/client"
)

func TestDocument(t *testing.T) {
	ctx := ctxT(t)
	ip := newInProcess(t)
	sess, err := ip.Acquire(ctx, api.AcquireRequest{Key: "doc", Owner: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.UpdateBytes(ctx, []byte(`{"big":9007199254740993,"s":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if err := sess.Release(ctx); err != nil {
		t.Fatal(err)
	}
	gr, err := ip.Get(ctx, "doc")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := gr.Document()
	if err != nil {
		t.Fatal(err)
	}
	if doc.Version != "1" || doc.ETag == "" || doc.Namespace != "default" || doc.Key != "doc" {
		t.Fatalf("doc = %+v", doc)
	}
	when := time.Date(2025, 11, 10, 12, 0, 0, 0, time.UTC)
	if err := doc.MutateWithTime(when, "/n=1", "/n++", "time:/at=NOW"); err != nil {
		t.Fatal(err)
	}
	data, err := doc.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	// Large integers survive a read-modify-write untouched.
	for _, want := range []string{`"big":9007199254740993`, `"n":2`, `"at":"2025-11-10T12:00:00Z"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("%s lacks %s", data, want)
		}
	}
	var typed struct {
		S string `json:"s"`
		N int    `json:"n"`
	}
	if err := doc.LoadInto(&typed); err != nil || typed.S != "x" || typed.N != 2 {
		t.Fatalf("LoadInto = %+v %v", typed, err)
	}

	// Write accepts a document in arbitrary chunks.
	w := client.NewDocument("default", "copy")
	src := `  {"a":{"b":[1,2,{"c":"}\"{"}]},"d":"e"}`
	for i := 0; i < len(src); i += 3 {
		if _, err := w.Write([]byte(src[i:min(i+3, len(src))])); err != nil {
			t.Fatal(err)
		}
	}
	if w.Body["d"] != "e" {
		t.Fatalf("written body = %v", w.Body)
	}
	if _, err := client.NewDocument("", "").Write([]byte(`[1]`)); err == nil {
		t.Fatal("non-object accepted")
	}
	r, err := w.Reader()
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.NewDecoder(r).Decode(&back); err != nil || back["d"] != "e" {
		t.Fatalf("Reader = %v %v", back, err)
	}
	empty := client.NewDocument("", "")
	if err := empty.LoadFrom(io.MultiReader()); err != nil || len(empty.Body) != 0 {
		t.Fatalf("empty LoadFrom = %v %v", empty.Body, err)
	}
}
