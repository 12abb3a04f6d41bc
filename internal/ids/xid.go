package ids

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"sync/atomic"
	"time"
)

// xidAlphabet is base32hex in lowercase: ids sort like their bytes.
const xidAlphabet = "0123456789abcdefghijklmnopqrstuv"

// XIDGenerator mints 12-byte xids: 4 bytes of Unix seconds, 3 bytes of
// machine identity, 2 bytes of process id and a 3-byte counter, encoded as 20
// characters of lowercase base32hex.
type XIDGenerator struct {
	machine [3]byte
	pid     uint16
	counter atomic.Uint32
}

// NewXIDGenerator returns a generator seeded from crypto/rand, so two
// processes on one host do not collide even with reused pids.
func NewXIDGenerator() *XIDGenerator {
	g := &XIDGenerator{pid: uint16(os.Getpid())}
	var seed [7]byte
	_, _ = rand.Read(seed[:])
	copy(g.machine[:], seed[:3])
	// Start in the lower half of the 24-bit space so a burst does not wrap.
	g.counter.Store(binary.BigEndian.Uint32(seed[3:]) & 0x7fffff)
	return g
}

// New returns a fresh xid string.
func (g *XIDGenerator) New() string {
	var raw [12]byte
	binary.BigEndian.PutUint32(raw[0:4], uint32(time.Now().Unix()))
	copy(raw[4:7], g.machine[:])
	binary.BigEndian.PutUint16(raw[7:9], g.pid)
	c := g.counter.Add(1)
	raw[9], raw[10], raw[11] = byte(c>>16), byte(c>>8), byte(c)
	return encodeXID(raw)
}

func encodeXID(id [12]byte) string {
	// 96 bits in 20 groups of 5 bits; the last group holds the final 1 bit
	// shifted left, as in the xid reference encoding.
	var dst [20]byte
	var acc uint64
	bits := 0
	n := 0
	for _, b := range id {
		acc = acc<<8 | uint64(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			dst[n] = xidAlphabet[(acc>>uint(bits))&0x1f]
			n++
		}
	}
	if bits > 0 {
		dst[n] = xidAlphabet[(acc<<uint(5-bits))&0x1f]
	}
	return string(dst[:])
}

var errInvalidXID = errors.New("xid must be 20 characters of 0-9 and a-v")

// ValidXID reports whether s is a well-formed xid.
func ValidXID(s string) error {
	if len(s) != 20 {
		return errInvalidXID
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'v') {
			return errInvalidXID
		}
	}
	// The last character carries a single bit: only 0 or g are canonical.
	if last := s[19]; last != '0' && last != 'g' {
		return errInvalidXID
	}
	return nil
}
