package lql

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var exampleNow = time.Date(2026, 3, 12, 10, 0, 0, 0, time.UTC)

func parseMutationExample(ex mutationExample) ([]Mutation, error) {
	if ex.split {
		return Mutations(exampleNow, ex.exprs...)
	}
	return ParseMutations(ex.exprs, exampleNow)
}

func TestMutationExamples(t *testing.T) {
	for _, ex := range mutationExamples {
		t.Run(ex.name, func(t *testing.T) {
			muts, err := parseMutationExample(ex)
			if strings.HasPrefix(ex.want, "err:") {
				if err == nil || err.Error() != ex.want[4:] {
					t.Fatalf("parse %q: error %v, want %q", ex.exprs, err, ex.want[4:])
				}
				return
			}
			if err != nil {
				t.Fatalf("parse %q: %v", ex.exprs, err)
			}
			doc := decodeDoc(t, ex.doc)
			err = ApplyMutations(doc, muts)
			var out bytes.Buffer
			_, serr := MutateStream(t.Context(), strings.NewReader(ex.doc), &out, muts, MutateOptions{Mode: MutateSingleObject})
			if strings.HasPrefix(ex.want, "apply:") {
				if err == nil || err.Error() != ex.want[6:] {
					t.Fatalf("apply %q: error %v, want %q", ex.exprs, err, ex.want[6:])
				}
				if serr == nil || !strings.Contains(serr.Error(), "not numeric") {
					t.Fatalf("MutateStream %q: error %v, want a not-numeric error", ex.exprs, serr)
				}
				return
			}
			if err != nil {
				t.Fatalf("apply %q: %v", ex.exprs, err)
			}
			got, _ := json.Marshal(doc)
			if !sameJSON(got, []byte(ex.want)) {
				t.Fatalf("apply %q:\n got %s\nwant %s", ex.exprs, got, ex.want)
			}
			if serr != nil {
				t.Fatalf("MutateStream %q: %v", ex.exprs, serr)
			}
			if !sameJSON(out.Bytes(), []byte(ex.want)) {
				t.Fatalf("MutateStream %q:\n got %s\nwant %s", ex.exprs, out.Bytes(), ex.want)
			}
		})
	}
}
