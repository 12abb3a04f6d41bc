package engine

import (
	"reflect"
	"testing"

	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

func TestKeyRecordRoundTrip(t *testing.T) {
	tr, fa := true, false
	cases := []keyRecord{
		{},
		{Version: 3, ETag: "abc", Blob: storage.BlobRef{ID: "b1", Size: 19}, UpdatedAt: 1795669687, Fencing: 9, Hidden: true},
		{Fencing: 1, Lease: leaseRecord{ID: "dc3rt69ksdu9l1n1tqmg", Owner: "me/ü", Expires: 1795669687123456789, TxnID: "dc3rt69ksdu9l1n1tqn0", Explicit: true}},
		{Version: -1, Staged: stagedRecord{TxnID: "t", Version: 4, State: true, Blob: storage.BlobRef{ID: "s", Size: 1 << 40}, ETag: "e", Hidden: &tr}},
		{Staged: stagedRecord{TxnID: "t", Version: 2, Remove: true, Hidden: &fa}},
	}
	for _, c := range cases {
		got, err := decodeKeyRecord(appendKeyRecord(nil, &c))
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip of %+v: %+v, %v", c, got, err)
		}
	}
	// JSON records of earlier builds still load.
	got, err := decodeKeyRecord([]byte(`{"v":2,"e":"x","f":3,"l":{"id":"L","o":"me","x":5,"t":"T"}}`))
	if err != nil || got.Version != 2 || got.Lease.ID != "L" || got.Fencing != 3 {
		t.Fatalf("legacy JSON: %+v %v", got, err)
	}
}

func FuzzDecodeKeyRecord(f *testing.F) {
	f.Add(appendKeyRecord(nil, &keyRecord{Version: 1, Lease: leaseRecord{ID: "l", TxnID: "t"}}))
	f.Add([]byte{1, 2, 3})
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeKeyRecord(b)
		if err != nil || len(b) == 0 || b[0] != keyRecordFormat {
			return
		}
		again, err := decodeKeyRecord(appendKeyRecord(nil, &r))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("re-encode of %+v: %+v %v", r, again, err)
		}
	})
}
