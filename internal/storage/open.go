package storage

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
)

// acceptedURLs is quoted in every URL error so the caller sees how to fix it.
const acceptedURLs = "accepted forms: mem:// (memory, lost at exit) or disk:///absolute/path (durable)"

// Open opens the store named by rawURL: "mem://" for a fresh memory store or
// "disk:///absolute/path" for the durable disk store rooted at that
// directory (created if missing).
func Open(ctx context.Context, rawURL string) (Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("storage: open %q: %w", rawURL, err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: open %q: not a URL (%s): %w", rawURL, acceptedURLs, err)
	}
	switch u.Scheme {
	case "mem":
		if u.Host != "" || (u.Path != "" && u.Path != "/") || u.Opaque != "" {
			return nil, fmt.Errorf("storage: open %q: mem takes no name or path (%s)", rawURL, acceptedURLs)
		}
		return NewMem(), nil
	case "disk":
		if u.Opaque != "" || u.Host != "" || u.Path == "" || !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("storage: open %q: disk needs an absolute directory after three slashes, as in disk:///var/lib/lockd-mcp (%s)", rawURL, acceptedURLs)
		}
		d, err := OpenDisk(ctx, filepath.Clean(u.Path), DiskOptions{})
		if err != nil {
			return nil, err
		}
		return d, nil
	default:
		return nil, fmt.Errorf("storage: open %q: unknown scheme %q (%s)", rawURL, u.Scheme, acceptedURLs)
	}
}
