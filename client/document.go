package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lockd-mcp/lockd-mcp/lql"
)

// Document is a state document held in memory, for callers that edit
// documents with LQL mutations rather than with their own Go types.
type Document struct {
	// Namespace and Key identify the document.
	Namespace string
	Key       string
	// Version and ETag are what the server reported when it was read.
	Version string
	ETag    string
	// Metadata carries server-reported attributes, when known.
	Metadata map[string]string
	// Body is the JSON object itself.
	Body map[string]any

	// pending collects bytes written through Write until they form a
	// complete JSON object.
	pending []byte
	scan    objectScanner
}

// NewDocument returns an empty document for namespace/key.
func NewDocument(namespace, key string) *Document {
	return &Document{Namespace: namespace, Key: key, Metadata: map[string]string{}, Body: map[string]any{}}
}

// LoadFrom replaces Body with the JSON object read from r. Empty input
// gives an empty object, as the server treats missing state.
func (d *Document) LoadFrom(r io.Reader) error {
	dec := json.NewDecoder(r)
	// Numbers stay as written (json.Number): a document read and saved
	// again must not lose the precision of large integers.
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		if errors.Is(err, io.EOF) {
			d.Body = map[string]any{}
			return nil
		}
		return fmt.Errorf("lockd: decode document %s/%s: %w", d.Namespace, d.Key, err)
	}
	if body == nil {
		body = map[string]any{}
	}
	d.Body = body
	return nil
}

// Mutate applies LQL mutation expressions to Body, with the current time
// for time: values.
func (d *Document) Mutate(exprs ...string) error {
	return d.MutateWithTime(time.Now(), exprs...)
}

// MutateWithTime applies LQL mutation expressions to Body, with now for
// time: values.
func (d *Document) MutateWithTime(now time.Time, exprs ...string) error {
	if d.Body == nil {
		d.Body = map[string]any{}
	}
	if err := lql.MutateWithTime(d.Body, now, exprs...); err != nil {
		return fmt.Errorf("lockd: mutate document %s/%s: %w", d.Namespace, d.Key, err)
	}
	return nil
}

// LoadInto decodes Body into target, a pointer to any JSON-compatible type.
func (d *Document) LoadInto(target any) error {
	data, err := d.Bytes()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, target); err != nil {
		return fmt.Errorf("lockd: decode document %s/%s: %w", d.Namespace, d.Key, err)
	}
	return nil
}

// Bytes returns Body as compact JSON ({} when empty).
func (d *Document) Bytes() ([]byte, error) {
	if d.Body == nil {
		return []byte("{}"), nil
	}
	data, err := json.Marshal(d.Body)
	if err != nil {
		return nil, fmt.Errorf("lockd: encode document %s/%s: %w", d.Namespace, d.Key, err)
	}
	return data, nil
}

// Reader returns Body as a JSON stream, ready for Update.
func (d *Document) Reader() (io.Reader, error) {
	data, err := d.Bytes()
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(data), nil
}

// Write makes Document an io.Writer: bytes accumulate until they form a
// complete JSON object, which then replaces Body. io.Copy(doc, resp.Reader())
// therefore loads a document.
func (d *Document) Write(p []byte) (int, error) {
	for i, b := range p {
		complete, err := d.scan.step(b)
		if err != nil {
			d.pending, d.scan = nil, objectScanner{}
			return i, fmt.Errorf("lockd: document %s/%s: %w", d.Namespace, d.Key, err)
		}
		if d.scan.started {
			d.pending = append(d.pending, b)
		}
		if complete {
			data := d.pending
			d.pending, d.scan = nil, objectScanner{}
			if err := d.LoadFrom(bytes.NewReader(data)); err != nil {
				return i + 1, err
			}
		}
	}
	return len(p), nil
}

// objectScanner finds the end of one top-level JSON object in a byte
// stream without decoding it, so Write stays linear in the input size.
type objectScanner struct {
	started  bool
	depth    int
	inString bool
	escaped  bool
}

func (s *objectScanner) step(b byte) (complete bool, err error) {
	if !s.started {
		switch b {
		case ' ', '\t', '\r', '\n':
			return false, nil
		case '{':
			s.started, s.depth = true, 1
			return false, nil
		}
		return false, fmt.Errorf("expected a JSON object, found %q", b)
	}
	switch {
	case s.escaped:
		s.escaped = false
	case s.inString:
		switch b {
		case '\\':
			s.escaped = true
		case '"':
			s.inString = false
		}
	case b == '"':
		s.inString = true
	case b == '{' || b == '[':
		s.depth++
	case b == '}' || b == ']':
		s.depth--
		return s.depth == 0, nil
	}
	return false, nil
}
