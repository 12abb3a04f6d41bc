package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/internal/storage"
)

// nsConfigs holds the stored namespace configurations. Namespaces without
// one use the default (preferred index, fallback none) and have no ETag.
type nsConfigs struct {
	mu sync.Mutex
	m  map[string]storedNSConfig
}

type storedNSConfig struct {
	cfg  api.NamespaceQueryConfig
	etag string
}

func (n *nsConfigs) init() { n.m = make(map[string]storedNSConfig) }

func (n *nsConfigs) load(ns string, v []byte) error {
	var cfg api.NamespaceQueryConfig
	if err := json.Unmarshal(v, &cfg); err != nil {
		return fmt.Errorf("namespace config %s: %w", ns, err)
	}
	n.m[ns] = storedNSConfig{cfg: cfg, etag: configETag(v)}
	return nil
}

func configETag(v []byte) string {
	sum := sha256.Sum256(v)
	return hex.EncodeToString(sum[:16])
}

// DefaultNamespaceQueryConfig is the configuration of a namespace nobody
// configured.
func DefaultNamespaceQueryConfig() api.NamespaceQueryConfig {
	return api.NamespaceQueryConfig{PreferredEngine: api.EngineIndex, FallbackEngine: api.EngineNone}
}

// NamespaceConfig returns the configuration of ns and its ETag ("" for the
// default).
func (e *Engine) NamespaceConfig(ns string) (api.NamespaceQueryConfig, string) {
	e.nsconf.mu.Lock()
	defer e.nsconf.mu.Unlock()
	if s, ok := e.nsconf.m[ns]; ok {
		return s.cfg, s.etag
	}
	return DefaultNamespaceQueryConfig(), ""
}

// SetNamespaceConfig merges update into the configuration of ns. Empty
// fields keep their values. ifMatch, when set, must equal the current ETag.
func (e *Engine) SetNamespaceConfig(ctx context.Context, ns string, update api.NamespaceQueryConfig, ifMatch string) (api.NamespaceQueryConfig, string, error) {
	e.nsconf.mu.Lock()
	defer e.nsconf.mu.Unlock()
	cur, ok := e.nsconf.m[ns]
	if !ok {
		cur.cfg = DefaultNamespaceQueryConfig()
	}
	if ifMatch != "" && ifMatch != cur.etag {
		return api.NamespaceQueryConfig{}, "", newError(api.ErrCodeNamespaceConfigConflict, "namespace config changed: If-Match %q does not match the current ETag %q; GET it again", ifMatch, cur.etag)
	}
	next := cur.cfg
	if v := strings.ToLower(strings.TrimSpace(update.PreferredEngine)); v != "" {
		if v != api.EngineIndex && v != api.EngineScan {
			return api.NamespaceQueryConfig{}, "", newError(api.ErrCodeInvalidNamespaceReq, "query.preferred_engine %q: allowed values are index, scan", v)
		}
		next.PreferredEngine = v
	}
	if v := strings.ToLower(strings.TrimSpace(update.FallbackEngine)); v != "" {
		if v != api.EngineScan && v != api.EngineNone {
			return api.NamespaceQueryConfig{}, "", newError(api.ErrCodeInvalidNamespaceReq, "query.fallback_engine %q: allowed values are scan, none", v)
		}
		next.FallbackEngine = v
	}
	v, err := json.Marshal(next)
	if err != nil {
		return api.NamespaceQueryConfig{}, "", err
	}
	rec := storage.Record{RecordKey: storage.RecordKey{Namespace: nsConfNamespace, Key: ns}, Value: v}
	if err := e.commit(ctx, storage.Batch{Puts: []storage.Record{rec}}); err != nil {
		return api.NamespaceQueryConfig{}, "", err
	}
	s := storedNSConfig{cfg: next, etag: configETag(v)}
	e.nsconf.m[ns] = s
	return s.cfg, s.etag, nil
}
