package tools

import "context"

// Lifted arguments.
//
// A tool call arrives as one JSON-RPC line. For a 256 KiB write-stream chunk
// the generic path is expensive: mcp-go decodes the whole message five times,
// its input validator re-encodes the arguments and decodes them again, and
// the handler decodes them once more. A transport may instead lift a large
// string argument out of the line before mcp-go sees it: the message keeps a
// short placeholder string in its place (so mcp-go still validates and routes
// the call) and the decoded bytes travel in the call's context.
//
// Only arguments a tool lists in Tool.LargeArgs may be lifted, and the server
// refuses at start a LargeArgs entry whose schema is anything but a bare
// string, so the placeholder validates exactly as the real value would.

// LiftedPlaceholder is the string a transport leaves in place of a lifted
// argument. Handlers never read it: they ask the context (argBytes).
const LiftedPlaceholder = "(lifted)"

// LiftedArgs are the decoded values of lifted arguments by argument name.
// The bytes may alias the transport's line buffer: a handler must not keep
// them after it returns.
type LiftedArgs map[string][]byte

type liftedArgsKey struct{}

// WithLiftedArgs attaches a call's lifted arguments to its context.
func WithLiftedArgs(ctx context.Context, args LiftedArgs) context.Context {
	return context.WithValue(ctx, liftedArgsKey{}, args)
}

// liftedArg returns the lifted value of argument name, if the transport
// lifted it from this call.
func liftedArg(ctx context.Context, name string) ([]byte, bool) {
	args, _ := ctx.Value(liftedArgsKey{}).(LiftedArgs)
	b, ok := args[name]
	return b, ok
}

// argBytes returns a string argument's bytes: the lifted value when the
// transport lifted it, else the decoded inline string. The second result
// says whether the argument was given at all (non-empty).
func argBytes(ctx context.Context, name, inline string) ([]byte, bool) {
	if b, ok := liftedArg(ctx, name); ok {
		return b, true
	}
	return []byte(inline), inline != ""
}
