package query

import (
	"strconv"
	"strings"
)

// Canonical paths name where a node sits in a document, in a form a
// selector field can be compared with byte for byte:
//
//   - an object member contributes "/" + the name with "~" written "~0" and
//     "/" written "~1" (JSON Pointer escaping);
//   - an array element contributes "/~2", whatever its index.
//
// "~2" never occurs in an escaped member name, so the two cannot collide.
//
// Why this is exact for LQL (spec §2.5): a literal, non-numeric segment
// selects a member of an object and nothing from an array, and "[]" selects
// every element of an array and nothing from an object. A selector path made
// only of such segments therefore resolves to exactly the nodes whose
// canonical path equals its translation. Arrays are never stepped into by
// themselves: "/tags" names the array node, "/tags[]" its elements. Fields
// with wildcards (*, **, ...), numeric segments (which address both object
// members and array indices), un-addressable "[]"-suffixed names or a root
// path are not translated; clauses on them are answered by verification.
const arraySegment = "/~2"

var memberEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func appendMemberSegment(b []byte, name string) []byte {
	b = append(b, '/')
	if !strings.ContainsAny(name, "~/") {
		return append(b, name...)
	}
	return append(b, memberEscaper.Replace(name)...)
}

// canonicalPath translates a selector field into a canonical path. ok is
// false when the index cannot resolve the field exactly (see above); valid
// is false when the field is not a JSON Pointer at all (no leading "/"),
// which the server rejects as invalid_selector.
func canonicalPath(field string) (path string, ok, valid bool) {
	f := strings.TrimSpace(field)
	if !strings.HasPrefix(f, "/") {
		return "", false, false
	}
	if f == "/" {
		return "", false, true // the root resolves to nothing; let the matcher decide
	}
	var b []byte
	for _, raw := range strings.Split(f[1:], "/") {
		seg := strings.ReplaceAll(strings.ReplaceAll(raw, "~1", "/"), "~0", "~")
		switch seg {
		case "*", "**", "...":
			return "", false, true
		case "[]":
			b = append(b, arraySegment...)
			continue
		}
		// Bracket sugar: "tags[]" is "tags" followed by "[]", "m[][]" is
		// "m" followed by two.
		base, n := seg, 0
		for strings.HasSuffix(base, "[]") {
			base = strings.TrimSuffix(base, "[]")
			n++
		}
		if n > 0 && base == "" {
			return "", false, true // "[][]": not addressable, not worth guessing
		}
		if base == "*" || base == "**" || base == "..." || isIndexLike(base) {
			return "", false, true
		}
		b = appendMemberSegment(b, base)
		for range n {
			b = append(b, arraySegment...)
		}
	}
	return string(b), true, true
}

// isIndexLike reports whether a segment could address an array element
// (Go Atoi accepts it: "+1", "01", "-3"); such segments also name object
// members, so the canonical path of the node depends on the document.
func isIndexLike(seg string) bool {
	_, err := strconv.Atoi(seg)
	return err == nil
}
