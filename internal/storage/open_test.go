package storage

import (
	"context"
	"strings"
	"testing"
)

func TestOpenURLs(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		url     string
		wantErr string // substring; "" means success
	}{
		{"mem://", ""},
		{"disk://" + dir, ""},
		{"mem://name", "mem takes no name"},
		{"disk://relative/dir", "absolute directory"},
		{"disk:relative", "absolute directory"},
		{"disk://", "absolute directory"},
		{"s3://bucket", `unknown scheme "s3"`},
		{"/just/a/path", `unknown scheme ""`},
		{"://", "not a URL"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			s, err := Open(context.Background(), tc.url)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want error containing %q", tc.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantErr) || !strings.Contains(msg, tc.url) || !strings.Contains(msg, "disk:///") {
				t.Fatalf("error %q should contain %q, the URL and the accepted forms", msg, tc.wantErr)
			}
		})
	}
}
