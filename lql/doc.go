// Package lql implements LQL, the lockd query language: selectors that
// match JSON documents, mutations that edit them, and field projection,
// both over decoded values and over streams of JSON tokens. The normative
// description is the project's specs/lql.md; section numbers (§) below
// refer to it.
//
// # Model
//
// A selector is a predicate over one JSON object. It has three equivalent
// forms: text ("/status=open,/n>=10"), URL query parameters
// ("eq.field=/status&eq.value=open") and the JSON AST that travels on the
// wire (the Selector type, which marshals to and from it). Every parser
// returns a validated, simplified Selector. Clauses address values with
// JSON Pointers extended by wildcards; a clause holds when at least one
// value its path resolves to satisfies it.
//
// A mutation is a small edit ("/a/b=1", "/n++", "rm:/x", "time:/t=NOW",
// "/p{/a=1,/b=2}"). Mutations apply in order; each sees the results of the
// previous ones.
//
// Two engines evaluate both: the in-memory one (Matches, ApplyMutations)
// over map[string]any, and the streaming one (QueryStream, MatchReader,
// MutateStream) over raw JSON bytes, which never holds a whole document:
// subtrees no clause or mutation can reach are skipped or copied token by
// token, so memory stays flat for multi-GiB inputs. The engines give the
// same results (checked by table tests, a structured random differential
// test and fuzzing); numbers compare by the text written in the source,
// which the in-memory engine sees when documents are decoded with
// json.Decoder.UseNumber. Documents decoded into float64 work too; their
// numbers then compare by their shortest decimal text (42.0 reads as 42).
//
// The package holds no mutable global state; all entry points are safe for
// concurrent use.
//
// # Selector text grammar (§3)
//
//	selector   := expr { ("," | LF) expr }       ; split outside quotes and braces
//	expr       := fullform | shorthand | "{}" | "." | "/" | ""
//	fullform   := wrapper* term "{" body "}"
//	wrapper    := ("and" | "or") ["." index] "." | "not."
//	term       := eq | contains | icontains | prefix | iprefix
//	            | range | date | in | exists      ; words are case-insensitive
//	body       := key "=" value { ("," | LF | CR | SP-after-value) key "=" value }
//	shorthand  := pointer op value
//	op         := "=" | "==" | "!=" | ">" | ">=" | "<" | "<="
//	pointer    := "/" segment { "/" segment }     ; ~0 and ~1 escapes
//	segment    := key | index | "*" | "[]" | "**" | "..." | key "[]"+
//
// Keys: field (f), value (v), any (a), ignoreCase (ic); range takes gt, gte,
// lt, lte; date takes value, after (a), before (b), gt, gte, lt, lte and
// since (which also accepts now, today, yesterday); in takes field and
// any (a "|" list); exists takes one bare pointer. Values may be quoted
// with ' or "; quotes are removed but nothing is unescaped, and values that
// parse as numbers or booleans are canonicalised (42.0 becomes 42) even
// when quoted. Several expressions are combined with AND
// (ParseSelectorString) or OR (ParseSelectorStringOr); top-level "or."
// expressions form one disjunction, and "and.N"/"or.N" address positions
// of nested groups (§3.7).
//
// Wildcards: "*" every member of an object, "[]" every element of an array,
// "**" either, "..." the node and every non-null descendant. Paths never
// step into arrays on their own: use /tags[] (or /tags/**) to reach the
// elements of /tags. A numeric segment addresses an object key or an array
// index.
//
// # Mutation grammar (§5)
//
//	mutation := ["file:" | "textfile:" | "base64file:"]
//	            ["rm:" | "remove:" | "delete:" | "del:"] ["time:"] body
//	body     := path                 ; with rm: only
//	          | path "++" | path "--"
//	          | path "{" mutation { "," mutation } "}"
//	          | path "=" value        ; "=+N"/"=-N" increment by N
//
// Set values are typed: true/false/null (any case), integers, floats, else
// strings; quotes do not force a string. time: stores RFC 3339 UTC text.
// Literal paths create missing objects and replace non-objects on the way;
// paths with wildcards only touch what exists. ParseMutations takes one
// expression per element, the way lockd's /v1/mutate does (so "/a=1,/b=2"
// sets /a to the string "1,/b=2"); Mutate, MutateWithTime and Mutations
// split each string at top-level commas first.
//
// File values (file:, textfile:, base64file:) are refused unless
// ParseMutationsOptions.Files holds a MutationFileValueResolver, which
// resolves "~", "~/" and relative paths (against BaseDir) at parse time and
// opens the files when the mutation is applied. A server must leave it nil.
//
// # Errors
//
// Parse and validation failures are *ParseError: Error() is the bare
// message worded as the reference implementation words it (lockd forwards
// it verbatim), and Detail() adds the offending expression and its byte
// offset, for tools that hand errors to a model. The streaming engines
// return *StreamError with a code (invalid_selector, invalid_body,
// document_too_large, context_canceled, internal).
//
// # Choices on points the specification leaves open
//
//   - Fields must start with '/'. Selector.Validate rejects any non-empty
//     field that does not (lockd's invalid_selector rule), and every parser
//     and QueryStream run it. The root ("" or "/") stays legal and resolves
//     to nothing, so exists{/} is simply false in both engines instead of
//     being an error in one of them.
//   - JSON ASTs are validated like text (Validate, and QueryStream does it
//     before reading), so an invalid AST is an error rather than a
//     selector with surprising results.
//   - rm: on a literal path through an array (rm:/items/0) is a no-op in
//     both engines; to null an element use a wildcard (rm:/items[]).
//   - Wildcard mutations apply pre-order: a target is replaced before
//     anything below it would be visited, so a mutation never descends into
//     a value it just wrote. A trailing "..." in a mutation targets every
//     member and element below the node, not the node itself.
//   - The date.since macros now, today and yesterday are resolved once per
//     Matches call and once per stream (QueryOptions.Now), so one long scan
//     uses one clock.
//   - Number text is compared as written, as lockd does: /n=42 does not
//     match 42.0, and /n=1e3 (canonicalised to 1000) does not match 1e3.
//   - Set values inf, infinity and nan, and non-finite increments, are
//     rejected at parse time because they cannot be serialised.
//   - Increment results within 1e-9 of an integer are written as integers,
//     others the way encoding/json writes a float64, in both engines.
//   - ApplyMutations reads file values itself instead of refusing them, and
//     the auto (file:) mode reads a file once.
//   - With several expressions, the implicit and./or. prefix is added when
//     two or more remain after dropping the match-all aliases {}, . and /.
//   - QueryStream follows §7.2: the empty selector matches every candidate,
//     scalars included. MatchReader, like MatchesValue, requires an object.
//   - The streaming engines see every occurrence of a duplicated object
//     key (a decoded map keeps only the last), keep invalid UTF-8 inside
//     strings as it is (encoding/json replaces it), decode lone surrogate
//     escapes as U+FFFD, and refuse nesting deeper than 10000 levels.
//   - Paths follow the LQL reference, not lockd's index engine: arrays are
//     reached with [] (in{field=/tags[],any=…}), never implicitly.
//
// # Not provided
//
// The fused query-and-mutate stream of §7.4 (which needs each candidate
// buffered or spooled) is left to callers: run MatchReader and then
// MutateStream. Projection of paths that mix numeric and non-numeric
// segments at the same level builds the array and drops the object keys.
package lql
