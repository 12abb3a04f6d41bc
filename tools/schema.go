package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/invopop/jsonschema"
)

// SchemaFile is the committed form of one tool's schemas: schemas/<tool>.json.
type SchemaFile struct {
	Input  json.RawMessage `json:"input"`
	Output json.RawMessage `json:"output"`
}

// reflector returns the one schema reflector every tool uses: inlined
// (some MCP clients reject a root $ref with $defs), additionalProperties
// false, required only where a field says jsonschema:"required", and
// descriptions from jsonschema_description tags.
func reflector() *jsonschema.Reflector {
	return &jsonschema.Reflector{
		Anonymous:                  true,
		ExpandedStruct:             true,
		DoNotReference:             true,
		RequiredFromJSONSchemaTags: true,
	}
}

// ReflectSchema returns the JSON schema of v's type as the registry serves it.
// The schemas are JSON Schema 2020-12, the dialect MCP assumes when $schema
// is absent; the keyword is left out because tools/list is a measured
// context budget and it would repeat on every schema.
func ReflectSchema(v any) (json.RawMessage, error) {
	return reflectSchema(v, false)
}

// ReflectOutputSchema is ReflectSchema for tool results. The root stays
// closed (additionalProperties false), but objects nested in it (list items)
// are left open: the server writes them, no client needs the keyword to
// read them, and every byte of it repeats in the tools/list budget.
func ReflectOutputSchema(v any) (json.RawMessage, error) {
	return reflectSchema(v, true)
}

func reflectSchema(v any, openNested bool) (json.RawMessage, error) {
	s := reflector().ReflectFromType(reflect.TypeOf(v))
	s.Version = ""
	if s.Type != "object" {
		return nil, fmt.Errorf("%T: root schema type is %q, want object", v, s.Type)
	}
	if openNested {
		openNestedObjects(s, true)
	}
	// A struct with no fields reflects without properties; MCP clients expect
	// an object schema with a properties member.
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("%T: marshal schema: %w", v, err)
	}
	return data, nil
}

func openNestedObjects(s *jsonschema.Schema, root bool) {
	if s == nil {
		return
	}
	if !root && s.Properties != nil && s.Properties.Len() > 0 {
		s.AdditionalProperties = nil
	}
	if s.Properties != nil {
		for _, p := range s.Properties.FromOldest() {
			openNestedObjects(p, false)
		}
	}
	openNestedObjects(s.Items, false)
}

// GenerateSchemas renders schemas/<tool>.json for every tool of the
// catalogue, keyed by file name. The output is indented JSON with a trailing
// newline so reviewers read schema changes as diffs.
func GenerateSchemas() (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, set := range Catalogue() {
		for _, t := range append(append([]Tool{}, set.Read...), set.Write...) {
			in, err := ReflectSchema(t.Args)
			if err != nil {
				return nil, fmt.Errorf("tool %s input: %w", t.Name, err)
			}
			res, err := ReflectOutputSchema(t.Result)
			if err != nil {
				return nil, fmt.Errorf("tool %s output: %w", t.Name, err)
			}
			data, err := json.Marshal(SchemaFile{Input: in, Output: res})
			if err != nil {
				return nil, err
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, data, "", "  "); err != nil {
				return nil, err
			}
			buf.WriteByte('\n')
			out[t.Name+".json"] = buf.Bytes()
		}
	}
	return out, nil
}

// CompactSchema returns the schema file's input and output compacted, the
// form served in tools/list.
func CompactSchema(file []byte) (input, output json.RawMessage, err error) {
	var f SchemaFile
	if err := json.Unmarshal(file, &f); err != nil {
		return nil, nil, fmt.Errorf("decode schema file: %w", err)
	}
	compact := func(r json.RawMessage) (json.RawMessage, error) {
		var b bytes.Buffer
		if err := json.Compact(&b, r); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	if input, err = compact(f.Input); err != nil {
		return nil, nil, err
	}
	if output, err = compact(f.Output); err != nil {
		return nil, nil, err
	}
	return input, output, nil
}
