package daemon

import (
	"strconv"
	"strings"
)

// HeaderVersion carries the daemon's lockd-mcp version on /healthz,
// /readyz and the status endpoint, so a client can tell a daemon built from
// other code apart before it trusts it with the wire.
const HeaderVersion = "X-Lockd-Mcp-Version"

// olderThan reports whether daemon version theirs should be replaced by a
// client of version mine. Equal versions never are. Released versions
// (vMAJOR.MINOR.PATCH[-pre]) compare numerically; a development build
// ("dev" or anything unparsable) counts as newer than every release, so a
// developer's binary takes over from an installed one but an installed one
// does not fight back. Two different unparsable versions: the newcomer
// wins, because there is no order to consult and the wire may differ.
func olderThan(theirs, mine string) bool {
	if theirs == mine {
		return false
	}
	t, tok := parseVersion(theirs)
	m, mok := parseVersion(mine)
	switch {
	case tok && mok:
		return compareVersions(t, m) < 0
	case tok && !mok:
		return true
	case !tok && mok:
		return false
	default:
		return true
	}
}

type semver struct {
	num [3]int
	pre string
}

func parseVersion(v string) (semver, bool) {
	rest, ok := strings.CutPrefix(v, "v")
	if !ok {
		return semver{}, false
	}
	rest, _, _ = strings.Cut(rest, "+")
	core, pre, _ := strings.Cut(rest, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return semver{}, false
	}
	var s semver
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return semver{}, false
		}
		s.num[i] = n
	}
	s.pre = pre
	return s, true
}

// compareVersions orders a before b (<0), equal (0) or after (>0); a
// pre-release sorts before its release, pre-releases compare as strings.
func compareVersions(a, b semver) int {
	for i := range a.num {
		if a.num[i] != b.num[i] {
			if a.num[i] < b.num[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return strings.Compare(a.pre, b.pre)
}
