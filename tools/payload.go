package tools

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"

	"github.com/lockd-mcp/lockd-mcp/client"
)

// Payload is the common payload argument trio of write tools: exactly one of
// payload_text, payload_base64 or payload_path.
type Payload struct {
	PayloadText   string `json:"payload_text,omitempty" jsonschema_description:"JSON document."`
	PayloadBase64 string `json:"payload_base64,omitempty"`
	PayloadPath   string `json:"payload_path,omitempty" jsonschema_description:"File under an allowed root."`
}

// open returns the payload as a reader. Files are streamed, never read
// whole; inline payloads must be JSON so a typo fails here, naming the
// argument, instead of as an opaque server error. Inline payloads may have
// been lifted out of the message by the transport (see LiftedArgs).
func (p Payload) open(ctx context.Context, d *Deps) (*openPayload, error) {
	text, hasText := argBytes(ctx, "payload_text", p.PayloadText)
	b64, hasB64 := argBytes(ctx, "payload_base64", p.PayloadBase64)
	n := 0
	for _, given := range []bool{hasText, hasB64, p.PayloadPath != ""} {
		if given {
			n++
		}
	}
	if n != 1 {
		return nil, failf("give exactly one of payload_text, payload_base64, payload_path")
	}
	switch {
	case hasText:
		if !json.Valid(text) {
			return nil, failf("argument payload_text is not valid JSON")
		}
		return &openPayload{data: text}, nil
	case hasB64:
		raw := make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
		n, err := base64.StdEncoding.Decode(raw, b64)
		if err != nil {
			return nil, failf("argument payload_base64 is not valid base64: %v", err)
		}
		raw = raw[:n]
		if !json.Valid(raw) {
			return nil, failf("argument payload_base64 does not decode to valid JSON")
		}
		return &openPayload{data: raw}, nil
	}
	path, err := d.Roots.ReadPath("payload_path", p.PayloadPath)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, failf("argument payload_path: %v", err)
	}
	return &openPayload{file: f}, nil
}

// openPayload is an inline payload (already in memory) or an open file.
type openPayload struct {
	data []byte
	file *os.File
}

// update writes the payload as key's state. Inline payloads go as one
// request with a Content-Length (UpdateBytes, retried on failover); a
// stream would be sent chunked, several writes and wake-ups per call for a
// body that is already in memory. Files stream through UpdateStream.
func (p *openPayload) update(ctx context.Context, cli *client.Client, key, leaseID string, opts client.UpdateOptions) (*client.UpdateResult, error) {
	if p.file != nil {
		return cli.UpdateStream(ctx, key, leaseID, p.file, opts)
	}
	return cli.UpdateBytes(ctx, key, leaseID, p.data, opts)
}

func (p *openPayload) Close() error {
	if p.file != nil {
		return p.file.Close()
	}
	return nil
}
