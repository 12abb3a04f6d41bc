package client

import (
	"log/slog"
	"testing"
)

func TestParseEndpoints(t *testing.T) {
	tests := []struct {
		raw     string
		noMTLS  bool
		want    []string
		wantErr bool
	}{
		{"lockd.example.com", false, []string{"https://lockd.example.com:9341"}, false},
		{"lockd.example.com:1234", true, []string{"http://lockd.example.com:1234"}, false},
		{"https://a:1/, http://b:2", false, []string{"https://a:1", "http://b:2"}, false},
		{"unix:///run/lockd.sock", false, []string{"unix:///run/lockd.sock"}, false},
		{"[::1]", true, []string{"http://[::1]:9341"}, false},
		{"https://host/prefix/", false, []string{"https://host/prefix"}, false},
		{"ftp://x", false, nil, true},
		{"unix://relative.sock", false, nil, true},
		{" , ", false, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseEndpoints(tt.raw, tt.noMTLS)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseEndpoints(%q) err = %v", tt.raw, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("ParseEndpoints(%q) = %v, want %v", tt.raw, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseEndpoints(%q)[%d] = %q, want %q", tt.raw, i, got[i], tt.want[i])
			}
		}
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := New("https://lockd.example.com"); err == nil {
		t.Fatal("https without a bundle: want error")
	}
	c, err := New("http://127.0.0.1:1", WithLogger(nil), WithDefaultNamespace("Work"))
	if err != nil {
		t.Fatal(err)
	}
	if c.logger == nil {
		t.Fatal("nil logger not replaced")
	}
	c.logger.Info("discarded") // must not panic
	if c.Namespace() != "work" {
		t.Fatalf("namespace = %q", c.Namespace())
	}
	if err := c.UseNamespace(".txns"); err == nil {
		t.Fatal("reserved namespace accepted")
	}
	if c.timeout != DefaultHTTPTimeout {
		t.Fatalf("timeout = %v", c.timeout)
	}
	multi, err := NewWithEndpoints([]string{"http://a:1", "http://b:2"}, WithLogger(slog.Default()))
	if err != nil {
		t.Fatal(err)
	}
	if multi.timeout != DefaultMultiEndpointHTTPTimeout {
		t.Fatalf("multi timeout = %v", multi.timeout)
	}
	if _, err := New("http://a:1", WithDefaultNamespace("bad ns!")); err == nil {
		t.Fatal("invalid default namespace accepted")
	}
}
