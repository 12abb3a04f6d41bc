package engine

import (
	"strings"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// MaxNameLen is the longest namespace or key the wire accepts.
const MaxNameLen = 128

const allowedChars = "allowed characters are a-z 0-9 . _ -"

// validSegment reports whether s is non-empty and made only of [a-z0-9._-].
func validSegment(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' {
			continue
		}
		return false
	}
	return true
}

// lowerASCII lowercases s without allocating when it is already lowercase.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// NormalizeNamespace trims and lowercases raw and checks it against the wire
// rules (WIRE §1.6). An empty namespace resolves to def. Namespaces starting
// with '.' are reserved for the engine's own records.
func NormalizeNamespace(raw, def string) (string, error) {
	s := lowerASCII(strings.TrimSpace(raw))
	if s == "" {
		s = def
	}
	switch {
	case s == "":
		return "", newError(api.ErrCodeInvalidNamespace, "namespace is required")
	case len(s) > MaxNameLen:
		return "", newError(api.ErrCodeInvalidNamespace, "namespace %q is %d characters long: at most %d are allowed", truncate(s), len(s), MaxNameLen)
	case s[0] == '.':
		return "", newError(api.ErrCodeInvalidNamespace, "namespace %q is reserved: names starting with '.' belong to the server", s)
	case !validSegment(s):
		return "", newError(api.ErrCodeInvalidNamespace, "namespace %q: %s", s, allowedChars)
	}
	return s, nil
}

// NormalizeKey trims raw, drops one leading '/', lowercases every segment and
// checks the wire rules (WIRE §1.6): at most 128 characters, '/'-separated
// non-empty segments of [a-z0-9._-].
func NormalizeKey(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	s = strings.TrimPrefix(s, "/")
	if s == "" {
		return "", newError(api.ErrCodeMissingKey, "key is required")
	}
	if len(s) > MaxNameLen {
		return "", newError(api.ErrCodeInvalidKey, "key %q is %d characters long: at most %d are allowed", truncate(s), len(s), MaxNameLen)
	}
	low := lowerASCII(s)
	rest := low
	for {
		seg, tail, more := strings.Cut(rest, "/")
		if seg == "" {
			return "", newError(api.ErrCodeInvalidKey, "key %q has an empty segment: remove the doubled or trailing '/'", s)
		}
		if !validSegment(seg) {
			return "", newError(api.ErrCodeInvalidKey, "key %q segment %q: %s", s, seg, allowedChars)
		}
		if !more {
			break
		}
		rest = tail
	}
	return low, nil
}

// StripNamespacePrefix removes a leading "<namespace>/" from a trimmed key,
// as acquire does, so "orders/o1" in namespace "orders" names key "o1".
func StripNamespacePrefix(key, namespace string) string {
	k := strings.TrimSpace(key)
	if len(k) > len(namespace) && k[len(namespace)] == '/' && strings.EqualFold(k[:len(namespace)], namespace) {
		return k[len(namespace)+1:]
	}
	return k
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
