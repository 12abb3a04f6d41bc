package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/api"
)

func jsonFields(v any) []string {
	var out []string
	t := reflect.TypeOf(v)
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func TestFastFieldListsMatchAPI(t *testing.T) {
	for _, c := range []struct {
		v      any
		fields []string
	}{{api.AcquireRequest{}, acquireFields}, {api.KeepAliveRequest{}, keepAliveFields}, {api.ReleaseRequest{}, releaseFields}} {
		got := slices.Sorted(slices.Values(c.fields))
		if want := jsonFields(c.v); !slices.Equal(got, want) {
			t.Errorf("%T: fast path fields %v, api %v", c.v, got, want)
		}
	}
}

func encodeStd(v any) string {
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(v)
	return b.String()
}

func FuzzFastEncodersMatchEncodingJSON(f *testing.F) {
	f.Add("default", "k1", "me", "", "01a2", int64(3), true)
	f.Add("ns", "Ключ<&>", "o\"wn\\er\x01", "etag", "", int64(-1), false)
	f.Fuzz(func(t *testing.T, ns, key, owner, etag, cid string, n int64, hidden bool) {
		a := api.AcquireResponse{Namespace: ns, LeaseID: "dc3rt69ksdu9l1n1tqmg", TxnID: "x", Key: key, Owner: owner, ExpiresAt: n, Version: n / 3, StateETag: etag, FencingToken: n + 1, RetryAfter: n % 2, CorrelationID: cid}
		if got, want := string(appendAcquireResponse(nil, &a)), encodeStd(&a); got != want {
			t.Fatalf("acquire:\n got %s\nwant %s", got, want)
		}
		u := api.UpdateResponse{NewVersion: n, NewStateETag: etag, BytesWritten: n * 2}
		if n%3 != 0 {
			u.Metadata.QueryHidden = &hidden
		}
		if got, want := string(appendUpdateResponse(nil, &u)), encodeStd(&u); got != want {
			t.Fatalf("update:\n got %s\nwant %s", got, want)
		}
	})
}

// FuzzStrictDecodeParity: the fast decoder accepts and decodes exactly what
// the strict json.Decoder path does.
func FuzzStrictDecodeParity(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add(s)
	}
	f.Add(`{"Key":"k","OWNER":"o"}`)
	f.Add(`{"key":"a\"b","owner":{"x":[1,"}",{"y":"]"}]}}`)
	f.Add(`{"key":"k" , "owner" : "o" , "ttl_seconds" : 1e3}`)
	f.Fuzz(func(t *testing.T, body string) {
		var fast, slow api.AcquireRequest
		errFast := decodeStrictFast(strings.NewReader(body), &fast, acquireFields)
		errSlow := decodeJSON(strings.NewReader(body), &slow, true, false)
		if (errFast == nil) != (errSlow == nil) {
			t.Fatalf("%q: fast err %v, slow err %v", body, errFast, errSlow)
		}
		if errFast == nil && fast != slow {
			t.Fatalf("%q: fast %+v, slow %+v", body, fast, slow)
		}
		if errFast != nil && errFast.Error() != errSlow.Error() {
			t.Fatalf("%q: messages differ: %v / %v", body, errFast, errSlow)
		}
	})
}
