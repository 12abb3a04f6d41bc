package lql

import (
	"strings"
	"time"
)

// temporal is a parsed temporal literal (spec §4.9): a calendar date or an
// instant. For instants, the calendar date in the written offset is kept so
// that date-with-instant equality can use it.
type temporal struct {
	t        time.Time // the instant, or midnight UTC of the date
	dateOnly bool
}

// maybeTemporal is a cheap filter that rejects most strings before the real
// parse, keeping eq evaluation fast on ordinary values.
func maybeTemporal(s string) bool {
	return len(s) >= 10 && s[4] == '-' && s[7] == '-' && s[0] >= '0' && s[0] <= '9'
}

// parseTemporal parses a temporal literal after trimming.
func parseTemporal(s string) (temporal, bool) {
	s = strings.TrimSpace(s)
	if !maybeTemporal(s) {
		return temporal{}, false
	}
	if len(s) == 10 {
		for i := 0; i < 10; i++ {
			if i == 4 || i == 7 {
				continue
			}
			if s[i] < '0' || s[i] > '9' {
				return temporal{}, false
			}
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return temporal{}, false
		}
		return temporal{t: t, dateOnly: true}, true
	}
	if len(s) < 19 || s[10] != 'T' {
		return temporal{}, false
	}
	last := s[len(s)-1]
	if last == 'Z' || (len(s) >= 25 && (s[len(s)-6] == '+' || s[len(s)-6] == '-') && s[len(s)-3] == ':') {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return temporal{}, false
		}
		return temporal{t: t}, true
	}
	// Naive datetime, taken as UTC. time.Parse accepts (and truncates) a
	// fraction after the seconds even though the layout has none.
	t, err := time.Parse("2006-01-02T15:04:05", s)
	if err != nil {
		return temporal{}, false
	}
	return temporal{t: t}, true
}

// temporalEqual implements temporal equality (spec §4.3): dates compare by
// calendar date, instants by moment, and a date equals an instant whose
// calendar date in its own written offset is that date.
func temporalEqual(a, b temporal) bool {
	switch {
	case a.dateOnly && b.dateOnly:
		return a.t.Equal(b.t)
	case !a.dateOnly && !b.dateOnly:
		return a.t.Equal(b.t)
	case a.dateOnly:
		return sameDate(b.t, a.t)
	default:
		return sameDate(a.t, b.t)
	}
}

func sameDate(instant, date time.Time) bool {
	y, m, d := instant.Date()
	y2, m2, d2 := date.Date()
	return y == y2 && m == m2 && d == d2
}

// compareTemporal orders two temporals on the time line: instants at their
// UTC moment, dates at midnight UTC.
func compareTemporal(a, b temporal) int {
	return a.t.Compare(b.t)
}

// resolveSince parses a date.since value, which also accepts the macros
// now, today and yesterday (any case), resolved against now.
func resolveSince(s string, now time.Time) (temporal, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "now":
		return temporal{t: now.UTC()}, true
	case "today":
		y, m, d := now.UTC().Date()
		return temporal{t: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), dateOnly: true}, true
	case "yesterday":
		y, m, d := now.UTC().Date()
		return temporal{t: time.Date(y, m, d-1, 0, 0, 0, 0, time.UTC), dateOnly: true}, true
	}
	return parseTemporal(s)
}

func isSinceMacro(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "now", "today", "yesterday":
		return true
	}
	return false
}
