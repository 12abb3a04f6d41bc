package engine

import (
	"bytes"
	"encoding/json"
	"testing"
)

// compactAll runs the streaming compactor over src split into chunks of n.
func compactAll(src []byte, n int) ([]byte, error) {
	var c compactor
	var out []byte
	var err error
	for len(src) > 0 {
		k := min(n, len(src))
		if out, err = c.write(out, src[:k]); err != nil {
			return out, err
		}
		src = src[k:]
	}
	return out, c.finish()
}

var compactSeeds = []string{
	`{"a":1}`, ` { "b" : [ 1 , 2.5e-3 , -0 , true , false , null ] } `, `"x\u00e9\n"`,
	`0`, `-1.5E+10`, `[]`, `{}`, `[[[]]]`, `""`, `  12  `, `01`, `1.`, `-`, `{"a" 1}`,
	`[1,]`, `{"a":1,}`, `nul`, `"\x"`, "\"a\x01\"", `[1 2]`, `{} {}`, ``, `   `,
	`{"k":"v","n":{"m":[1,{"o":"p"}]}}`, `1e`, `1e+`, `"\ud83d\ude00"`, `[-]`, `tru`,
}

func TestCompactorMatchesEncodingJSON(t *testing.T) {
	for _, s := range compactSeeds {
		for _, n := range []int{1, 2, 3, 7, 1 << 20} {
			checkCompact(t, []byte(s), n)
		}
	}
}

func checkCompact(t *testing.T, src []byte, n int) {
	t.Helper()
	got, err := compactAll(src, n)
	valid := json.Valid(src)
	if valid != (err == nil) {
		t.Fatalf("input %q chunk %d: json.Valid=%v, compactor err=%v", src, n, valid, err)
	}
	if !valid {
		return
	}
	var want bytes.Buffer
	if err := json.Compact(&want, src); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("input %q chunk %d: got %q want %q", src, n, got, want.Bytes())
	}
}

func FuzzCompactor(f *testing.F) {
	for _, s := range compactSeeds {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, src []byte, n uint8) {
		checkCompact(t, src, int(n)+1)
	})
}
