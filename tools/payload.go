package tools

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"strings"
)

// Payload is the common payload argument trio of write tools: exactly one of
// payload_text, payload_base64 or payload_path.
type Payload struct {
	PayloadText   string `json:"payload_text,omitempty" jsonschema_description:"JSON document."`
	PayloadBase64 string `json:"payload_base64,omitempty"`
	PayloadPath   string `json:"payload_path,omitempty" jsonschema_description:"File under an allowed root, streamed."`
}

// open returns the payload as a reader. Files are streamed, never read
// whole; inline payloads must be JSON so a typo fails here, naming the
// argument, instead of as an opaque server error.
func (p Payload) open(d *Deps) (io.ReadCloser, error) {
	n := 0
	for _, s := range []string{p.PayloadText, p.PayloadBase64, p.PayloadPath} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, failf("give exactly one of payload_text, payload_base64, payload_path")
	}
	switch {
	case p.PayloadText != "":
		if !json.Valid([]byte(p.PayloadText)) {
			return nil, failf("argument payload_text is not valid JSON")
		}
		return io.NopCloser(strings.NewReader(p.PayloadText)), nil
	case p.PayloadBase64 != "":
		raw, err := base64.StdEncoding.DecodeString(p.PayloadBase64)
		if err != nil {
			return nil, failf("argument payload_base64 is not valid base64: %v", err)
		}
		if !json.Valid(raw) {
			return nil, failf("argument payload_base64 does not decode to valid JSON")
		}
		return io.NopCloser(bytes.NewReader(raw)), nil
	}
	path, err := d.Roots.ReadPath("payload_path", p.PayloadPath)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, failf("argument payload_path: %v", err)
	}
	return f, nil
}
