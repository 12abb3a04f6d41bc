package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/mark3labs/mcp-go/mcp"
)

// ToolError is a failure the agent can act on: Msg names the argument or the
// server condition and the next tool to call.
type ToolError struct {
	Msg string
	Err error
}

func (e *ToolError) Error() string { return e.Msg }
func (e *ToolError) Unwrap() error { return e.Err }

// failf builds a ToolError. Handlers use it for argument problems they detect
// themselves; server errors go through Deps.explain.
func failf(format string, args ...any) error {
	return &ToolError{Msg: fmt.Sprintf(format, args...)}
}

// newTool builds a Tool from a typed handler. The zero values of A and R are
// the schema sources, so a tool's schema cannot drift from what its handler
// decodes and returns.
func newTool[A, R any](name, dotted, desc string, ann Annotations, fn func(ctx context.Context, d *Deps, args A) (R, error)) Tool {
	leaseField, hasLease := reflect.TypeFor[A]().FieldByName("LeaseID")
	hasLease = hasLease && leaseField.Type.Kind() == reflect.String
	return Tool{
		Name:        name,
		Dotted:      dotted,
		Description: desc,
		Annotations: ann,
		Args:        new(A),
		Result:      new(R),
		Handler: func(ctx context.Context, d *Deps, req mcp.CallToolRequest) *mcp.CallToolResult {
			var args A
			raw := any(req.Params.RawArguments)
			if len(req.Params.RawArguments) == 0 {
				raw = req.Params.Arguments
			}
			if err := decodeArgs(raw, &args); err != nil {
				return errorResult(fmt.Sprintf("%s: invalid arguments: %v; see lockd_help", name, err))
			}
			d = d.withRequest(ctx, req)
			if hasLease {
				d.leaseID = reflect.ValueOf(&args).Elem().FieldByIndex(leaseField.Index).String()
			}
			res, err := fn(ctx, d, args)
			if err != nil {
				// A failed call still carries the warnings it collected:
				// touching a lease consumes its renewal warning, and the
				// call after a lost lease usually fails.
				return withWarnings(errorResult(d.explain(ctx, name, err)), d.takeWarnings())
			}
			return successResult(res, d.takeWarnings())
		},
	}
}

// decodeArgs decodes the raw arguments strictly. The input schema has
// already been checked by mcp-go; unknown fields here would mean a schema and
// struct mismatch, which the drift test prevents.
func decodeArgs(raw any, dst any) error {
	var data []byte
	switch v := raw.(type) {
	case nil:
		data = []byte("{}")
	case json.RawMessage:
		data = v
		if len(v) == 0 {
			data = []byte("{}")
		}
	case []byte:
		data = v
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			return err
		}
	}
	if len(bytes.TrimSpace(data)) == 0 || string(bytes.TrimSpace(data)) == "null" {
		data = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return fmt.Errorf("argument %q must be %s", ute.Field, ute.Type)
		}
		return err
	}
	return nil
}

func errorResult(msg string) *mcp.CallToolResult {
	return &mcp.CallToolResult{
		IsError: true,
		Content: []mcp.Content{mcp.NewTextContent(msg)},
	}
}

// successResult carries the typed result as structuredContent and, for
// clients that only read text, the same JSON as text, plus the warnings.
func successResult(res any, warnings []string) *mcp.CallToolResult {
	data, err := json.Marshal(res)
	if err != nil {
		return errorResult(fmt.Sprintf("internal error: encode result: %v", err))
	}
	return withWarnings(&mcp.CallToolResult{
		StructuredContent: json.RawMessage(data),
		Content:           []mcp.Content{mcp.NewTextContent(string(data))},
	}, warnings)
}

// withWarnings appends warnings (a lost lease renewal) to a result as extra
// text items, so they are never hidden.
func withWarnings(out *mcp.CallToolResult, warnings []string) *mcp.CallToolResult {
	for _, w := range warnings {
		out.Content = append(out.Content, mcp.NewTextContent("warning: "+w))
	}
	return out
}
