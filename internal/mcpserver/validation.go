package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// argErrors explains input-schema failures in terms of arguments.
// mcp-go validates arguments before the handler runs (WithInputSchemaValidation)
// but words failures as validator internals ("/key: &{Got:0 Want:1}").
// The after-call hook recompiles the same schema and rewrites the message
// so it names each argument and the next step.
type argErrors struct {
	schemas map[string]*jsonschema.Schema // by advertised tool name
	printer *message.Printer
}

const validationPrefix = "input schema validation failed"

func newArgErrors(tools map[string]json.RawMessage) (*argErrors, error) {
	a := &argErrors{schemas: map[string]*jsonschema.Schema{}, printer: message.NewPrinter(language.English)}
	for name, raw := range tools {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("tool %s: input schema: %w", name, err)
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		url := "mem:///" + name + ".json"
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("tool %s: %w", name, err)
		}
		s, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("tool %s: input schema does not compile: %w", name, err)
		}
		a.schemas[name] = s
	}
	return a, nil
}

// hook rewrites mcp-go's validation result in place.
func (a *argErrors) hook(_ context.Context, _ any, req *mcp.CallToolRequest, result any) {
	res, ok := result.(*mcp.CallToolResult)
	if !ok || !res.IsError || len(res.Content) == 0 {
		return
	}
	text, ok := res.Content[0].(mcp.TextContent)
	if !ok || !strings.HasPrefix(text.Text, validationPrefix) {
		return
	}
	if msg := a.explain(req.Params.Name, req.Params.Arguments); msg != "" {
		res.Content = []mcp.Content{mcp.NewTextContent(msg)}
	}
}

func (a *argErrors) explain(tool string, args any) string {
	s, ok := a.schemas[tool]
	if !ok {
		return ""
	}
	data, err := json.Marshal(args)
	if err != nil || args == nil {
		data = []byte("{}")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Sprintf("%s: arguments are not a JSON object: %v", tool, err)
	}
	var verr *jsonschema.ValidationError
	if err := s.Validate(v); !errors.As(err, &verr) {
		return ""
	}
	var parts []string
	for _, leaf := range leaves(verr) {
		parts = append(parts, a.leafMessage(leaf))
	}
	return fmt.Sprintf("%s: invalid arguments: %s; fix them and call %s again (argument schema in tools/list, usage in lockd_help)",
		tool, strings.Join(parts, "; "), tool)
}

func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

func (a *argErrors) leafMessage(e *jsonschema.ValidationError) string {
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		return "missing required argument " + strings.Join(k.Missing, ", ")
	case *kind.AdditionalProperties:
		return "unknown argument " + strings.Join(k.Properties, ", ")
	}
	arg := strings.Join(e.InstanceLocation, ".")
	if arg == "" {
		return e.ErrorKind.LocalizedString(a.printer)
	}
	return fmt.Sprintf("argument %s: %s", arg, e.ErrorKind.LocalizedString(a.printer))
}
