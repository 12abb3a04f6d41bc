package query

import (
	"strings"
	"time"
)

// temporalClass is what the index knows about a string as an LQL temporal
// literal (spec §4.9).
type temporalClass uint8

const (
	// notTemporal: certainly not a temporal literal (it does not even start
	// like a date).
	notTemporal temporalClass = iota
	// temporalOK: a temporal literal placed on the time line at nanos.
	temporalOK
	// temporalUnsure: it looks like a date but is not in one of the plain
	// forms below; the index hands documents holding such values to the
	// matcher rather than second-guess the reference parser on edge cases
	// (surrounding spaces, invalid calendar dates, very long fractions,
	// years outside the nanosecond range, leap seconds...).
	temporalUnsure
)

// classifyTemporal places s on the LQL time line: date-only values at
// midnight UTC, RFC 3339 instants at their UTC moment, naive datetimes as
// UTC. It accepts only the unambiguous spellings:
//
//	YYYY-MM-DD
//	YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z|±hh:mm]
func classifyTemporal(s string) (temporalClass, int64) {
	if t := strings.TrimSpace(s); t != s {
		// The reference trims before parsing; padded dates are rare enough
		// to leave to the matcher.
		if c, _ := classifyTemporal(t); c != notTemporal {
			return temporalUnsure, 0
		}
		return notTemporal, 0
	}
	if len(s) < 10 || !isDigits(s[0:4]) || s[4] != '-' {
		return notTemporal, 0
	}
	if !isDigits(s[5:7]) || s[7] != '-' || !isDigits(s[8:10]) {
		return temporalUnsure, 0
	}
	year, month, day := atoiN(s[0:4]), atoiN(s[5:7]), atoiN(s[8:10])
	if year < 1700 || year > 2200 || month < 1 || month > 12 || day < 1 ||
		day > daysIn(year, month) {
		return temporalUnsure, 0
	}
	if len(s) == 10 {
		return temporalOK, time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC).UnixNano()
	}
	r := s[10:]
	if len(r) < 9 || r[0] != 'T' || !isDigits(r[1:3]) || r[3] != ':' ||
		!isDigits(r[4:6]) || r[6] != ':' || !isDigits(r[7:9]) {
		return temporalUnsure, 0
	}
	hh, mm, ss := atoiN(r[1:3]), atoiN(r[4:6]), atoiN(r[7:9])
	if hh > 23 || mm > 59 || ss > 59 {
		return temporalUnsure, 0
	}
	r = r[9:]
	nanos := 0
	if len(r) > 0 && r[0] == '.' {
		n := 1
		for n < len(r) && r[n] >= '0' && r[n] <= '9' {
			n++
		}
		digits := r[1:n]
		if len(digits) == 0 || len(digits) > 9 {
			return temporalUnsure, 0
		}
		nanos = atoiN(digits)
		for range 9 - len(digits) {
			nanos *= 10
		}
		r = r[n:]
	}
	offset := 0
	switch {
	case r == "" || r == "Z":
	case len(r) == 6 && (r[0] == '+' || r[0] == '-') && isDigits(r[1:3]) && r[3] == ':' && isDigits(r[4:6]):
		oh, om := atoiN(r[1:3]), atoiN(r[4:6])
		if oh > 23 || om > 59 {
			return temporalUnsure, 0
		}
		offset = (oh*60 + om) * 60
		if r[0] == '-' {
			offset = -offset
		}
	default:
		return temporalUnsure, 0
	}
	t := time.Date(year, time.Month(month), day, hh, mm, ss, nanos, time.UTC)
	return temporalOK, t.Add(-time.Duration(offset) * time.Second).UnixNano()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

func atoiN(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
