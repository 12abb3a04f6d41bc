package lql

// Mutation conformance examples 107-136 of spec §10.1, generated from the
// spec table. split selects the M-str entry points (each expression split
// at top-level commas); want is the resulting document, "err:<parse
// error>" or "apply:<apply error>". NOW is 2026-03-12T10:00:00Z.

type mutationExample struct {
	name  string
	split bool
	doc   string
	exprs []string
	want  string
}

var mutationExamples = []mutationExample{
	{"ex107", false, "{\"state\":{\"count\":1,\"details\":{\"owner\":\"bob\"}}}", []string{"/state/count=+4", "/state/count--", "/state/details{/owner=\"alice\",/note=\"updated\"}", "time:/state/updated=NOW", "rm:/state/details/legacy"}, "{\"state\":{\"count\":4,\"details\":{\"note\":\"updated\",\"owner\":\"alice\"},\"updated\":\"2026-03-12T10:00:00Z\"}}"},
	{"ex108", true, "{}", []string{"/foo=bar,/count=1", "/count++"}, "{\"count\":2,\"foo\":\"bar\"}"},
	{"ex109", true, "{}", []string{"/status=pending", "/status=done"}, "{\"status\":\"done\"}"},
	{"ex110", true, "{}", []string{"badexpr"}, "err:invalid mutation \"badexpr\" (expected key=value)"},
	{"ex111", false, "{\"labels\":{\"env\":\"prod\",\"owner\":\"alice\"},\"items\":[{\"sku\":\"A\",\"price\":10},{\"sku\":\"B\",\"price\":20}],\"groups\":[{\"items\":[{\"sku\":\"C\"}]}]}", []string{"/labels/*=\"tagged\"", "/items/**/sku=\"X\"", "/items[]/price=+5", "/items/*/price=+1", "/groups/.../sku=\"Z\""}, "{\"groups\":[{\"items\":[{\"sku\":\"Z\"}]}],\"items\":[{\"price\":15,\"sku\":\"X\"},{\"price\":25,\"sku\":\"X\"}],\"labels\":{\"env\":\"tagged\",\"owner\":\"tagged\"}}"},
	{"ex112", false, "{\"labels\":{\"env\":\"prod\",\"owner\":\"alice\"},\"items\":[{\"sku\":\"A\",\"price\":10},{\"sku\":\"B\",\"price\":20}],\"nested\":{\"items\":[{\"sku\":\"C\",\"price\":30}]}}", []string{"rm:/labels/*", "rm:/items[]/price", "rm:/items/**/sku", "rm:/nested/.../price"}, "{\"items\":[{},{}],\"labels\":{},\"nested\":{\"items\":[{\"sku\":\"C\"}]}}"},
	{"ex113", false, "{\"data\":{\"hello key\":\"world\",\"count\":0},\"meta\":{\"name\":\"helloworlder\"}}", []string{"/data{/hello key=Mars,/count++}", "/meta{/name=hellomarser,/previous=world}"}, "{\"data\":{\"count\":1,\"hello key\":\"Mars\"},\"meta\":{\"name\":\"hellomarser\",\"previous\":\"world\"}}"},
	{"ex114", true, "{\"data\":{\"hello key\":\"world\",\"count\":0},\"meta\":{\"name\":\"helloworlder\"}}", []string{"/data/hello key=Mars,/data/count++,/meta/name=hellomarser,/meta/previous=world"}, "{\"data\":{\"count\":1,\"hello key\":\"Mars\"},\"meta\":{\"name\":\"hellomarser\",\"previous\":\"world\"}}"},
	{"ex115", false, "{\"state\":{\"count\":\"not-number\"}}", []string{"/state/count++"}, "apply:value at state.count is not numeric"},
	{"ex116", false, "{}", []string{"state.counter=1"}, "err:mutation path \"state.counter\" must start with '/'"},
	{"ex117", false, "{\"state\":{\"status\":\"queued\",\"retries\":1,\"legacy\":true}}", []string{"/state/status=running", "/state/retries=+2", "rm:/state/legacy"}, "{\"state\":{\"retries\":3,\"status\":\"running\"}}"},
	{"ex118", false, "{}", []string{"/e=\"42\"", "/f='true'", "/g=hello world", "/d=null", "/i=", "/n=0x10", "/q=TRUE", "/j=1e3", "/k=+5x"}, "{\"d\":null,\"e\":42,\"f\":true,\"g\":\"hello world\",\"i\":\"\",\"j\":1000,\"k\":\"+5x\",\"n\":\"0x10\",\"q\":true}"},
	{"ex119", false, "{\"n\":1}", []string{"/n=+0"}, "err:increment mutation requires non-zero delta"},
	{"ex120", false, "{\"n\":1.5}", []string{"/n=-0.5"}, "{\"n\":1}"},
	{"ex121", false, "{}", []string{"/n++", "/m--"}, "{\"m\":-1,\"n\":1}"},
	{"ex122", false, "{}", []string{"time:/u=2025-01-01T10:00:00+02:00", "time:/v=now"}, "{\"u\":\"2025-01-01T08:00:00Z\",\"v\":\"2026-03-12T10:00:00Z\"}"},
	{"ex123", false, "{}", []string{"time:/t=2025-01-01"}, "err:invalid time literal \"2025-01-01\""},
	{"ex124", false, "{}", []string{"rm:time:/t=NOW"}, "err:time-prefixed mutation cannot be combined with delete/remove (time:/t=NOW)"},
	{"ex125", false, "{\"a\":5}", []string{"/a/b/c=1"}, "{\"a\":{\"b\":{\"c\":1}}}"},
	{"ex126", false, "{\"items\":[\"a\",\"b\"]}", []string{"/items/0=x"}, "{\"items\":{\"0\":\"x\"}}"},
	{"ex127", false, "{\"items\":[1,2]}", []string{"rm:/items[]"}, "{\"items\":[null,null]}"},
	{"ex128", false, "{\"items\":[{\"a\":1}]}", []string{"/items[]/missing=1"}, "{\"items\":[{\"a\":1}]}"},
	{"ex129", false, "{\"x\":{\"a\":1,\"b\":\"s\"}}", []string{"/x/*++"}, "apply:value at b is not numeric"},
	{"ex130", false, "{}", []string{"/a=1,/b=2"}, "{\"a\":\"1,/b=2\"}"},
	{"ex131", true, "{}", []string{"/a=1,/b=2"}, "{\"a\":1,\"b\":2}"},
	{"ex132", false, "{\"s\":{\"a\":1}}", []string{"/s{rm:/a,/b++,time:/c=NOW}"}, "{\"s\":{\"b\":1,\"c\":\"2026-03-12T10:00:00Z\"}}"},
	{"ex133", false, "{}", []string{"/a/~0b~1c=1"}, "{\"a\":{\"~b/c\":1}}"},
	{"ex134", false, "{}", []string{"file:/a=x.txt"}, "err:file-backed mutations are disabled"},
	{"ex135", false, "{}", []string{"/=1"}, "err:path \"/\" refers to document root"},
	{"ex136", false, "{}", []string{"/s{}"}, "err:brace mutation \"/s{}\" empty"},
}
