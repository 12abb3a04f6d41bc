package mcpserver

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var liftable = map[string][]string{
	"lockd_state_write_stream_append": {"chunk_text", "chunk_base64"},
	"lockd.state.write_stream.append": {"chunk_text", "chunk_base64"},
}

func call(t *testing.T, tool string, args map[string]any) []byte {
	t.Helper()
	line, err := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": 7, "method": "tools/call",
		"params": map[string]any{"name": tool, "arguments": args, "_meta": map[string]any{"progressToken": "p"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return line
}

// The lifted message must decode to the original with the lifted arguments
// replaced by the placeholder, and the lifted bytes must equal what
// encoding/json decodes from the original.
func TestLiftMatchesEncodingJSON(t *testing.T) {
	big := strings.Repeat("abc", 400)
	cases := map[string]string{
		"plain":        big,
		"escapes":      big + "\"quoted\"\\back\\slash\n\ttab",
		"unicode":      big + "ü€😀",
		"control":      big + "\x01",
		"html":         big + "<a>&</a>",
		"json-in-json": `{"pad":"` + big + `","n":[1,2,{"x":null}]}`,
	}
	for name, val := range cases {
		t.Run(name, func(t *testing.T) {
			args := map[string]any{"stream_id": "ws_1", "chunk_text": val}
			line := call(t, "lockd_state_write_stream_append", args)
			env, err := scanEnvelope(line)
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			if env.method != "tools/call" || !env.hasID || env.tool != "lockd_state_write_stream_append" {
				t.Fatalf("envelope %+v", env)
			}
			msg, lifted := lift(line, env, liftable)
			if string(lifted["chunk_text"]) != val {
				t.Fatalf("lifted %q..., want %q...", trunc(lifted["chunk_text"]), trunc([]byte(val)))
			}
			var got, want map[string]any
			if err := json.Unmarshal(msg, &got); err != nil {
				t.Fatalf("lifted message is not JSON: %v\n%s", err, msg)
			}
			_ = json.Unmarshal(line, &want)
			want["params"].(map[string]any)["arguments"].(map[string]any)["chunk_text"] = "(lifted)"
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if !bytes.Equal(gj, wj) {
				t.Fatalf("lifted message\n%s\nwant\n%s", gj, wj)
			}
		})
	}
}

func trunc(b []byte) string {
	if len(b) > 40 {
		return string(b[len(b)-40:])
	}
	return string(b)
}

func TestLiftLeavesOthersAlone(t *testing.T) {
	big := strings.Repeat("x", 4096)
	for name, line := range map[string][]byte{
		"small":         call(t, "lockd_state_write_stream_append", map[string]any{"stream_id": "s", "chunk_text": "tiny"}),
		"other tool":    call(t, "lockd_get", map[string]any{"key": big}),
		"other arg":     call(t, "lockd_state_write_stream_append", map[string]any{"stream_id": big}),
		"not a string":  call(t, "lockd_state_write_stream_append", map[string]any{"stream_id": "s", "chunk_text": []string{big}}),
		"other method":  []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"name":"lockd_state_write_stream_append","arguments":{"chunk_text":"` + big + `"}}}`),
		"duplicate arg": []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lockd_state_write_stream_append","arguments":{"chunk_text":"` + big + `","chunk_text":"x"}}}`),
		"bad escape":    []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lockd_state_write_stream_append","arguments":{"chunk_text":"` + big + `\q"}}}`),
	} {
		t.Run(name, func(t *testing.T) {
			env, err := scanEnvelope(line)
			if err != nil {
				return // generic path
			}
			msg, lifted := lift(line, env, liftable)
			if lifted != nil || !bytes.Equal(msg, line) {
				t.Fatalf("lifted %v from %s", lifted, line)
			}
		})
	}
}

func TestLiftDottedNameAndBase64(t *testing.T) {
	b64 := strings.Repeat("QUJD", 300)
	line := call(t, "lockd.state.write_stream.append", map[string]any{"stream_id": "s", "chunk_base64": b64})
	env, err := scanEnvelope(line)
	if err != nil {
		t.Fatal(err)
	}
	_, lifted := lift(line, env, liftable)
	if string(lifted["chunk_base64"]) != b64 {
		t.Fatalf("chunk_base64 not lifted under the dotted name")
	}
}

func TestScanEnvelope(t *testing.T) {
	for line, want := range map[string]envelope{
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`:           {method: "notifications/initialized"},
		`{"jsonrpc":"2.0","id":null,"method":"x"}`:                         {method: "x"},
		` {"id":"a\"b","method":"tools/list","params":{}} `:                {method: "tools/list", hasID: true},
		`{"jsonrpc":"2.0","id":3,"result":{"content":[{"a":[1,{}]}]}}`:     {hasID: true},
		`{"method":"tools\/call","id":0,"params":{"name":"n","x":[true]}}`: {method: "tools/call", hasID: true},
	} {
		got, err := scanEnvelope([]byte(line))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got.method != want.method || got.hasID != want.hasID {
			t.Errorf("%s: got %+v, want %+v", line, got, want)
		}
	}
	for _, bad := range []string{``, `[]`, `{"id":1,"id":2}`, `{"id":1`, `{"id":1}x`, `{"a":"unterminated}`, `{"a":}`} {
		if _, err := scanEnvelope([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestPlainASCII(t *testing.T) {
	base := strings.Repeat("abcdefgh", 3)
	if !plainASCII([]byte(base)) {
		t.Fatal("plain text refused")
	}
	for i := 0; i < len(base); i++ {
		for _, c := range []byte{0x00, 0x1f, '\\', 0x80, 0xff} {
			b := []byte(base)
			b[i] = c
			if plainASCII(b) {
				t.Fatalf("byte %#x at %d accepted", c, i)
			}
		}
		for _, c := range []byte{0x20, '~', 0x7f, '/', '"'} {
			b := []byte(base)
			b[i] = c
			if !plainASCII(b) {
				t.Fatalf("byte %#x at %d refused", c, i)
			}
		}
	}
}

func FuzzScanEnvelope(f *testing.F) {
	big := strings.Repeat("a", 1100)
	f.Add([]byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"t","arguments":{"chunk_text":"ab\"c"}}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"t","arguments":{"chunk_text":"` + big + `\"\u00fc"}}}`))
	f.Add([]byte(`{"method":"tools/call","params":{"arguments":{"x":[1,"]"],"chunk_text":"` + big + `"},"name":"t"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		env, err := scanEnvelope(line)
		if err != nil {
			return
		}
		// Whatever the walker accepts, lifting must keep a valid document
		// valid and an invalid one invalid.
		msg, _ := lift(line, env, map[string][]string{env.tool: {"chunk_text"}})
		if json.Valid(line) != json.Valid(msg) {
			t.Fatalf("validity changed:\n%s\n%s", line, msg)
		}
	})
}
