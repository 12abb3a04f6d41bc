package query

import (
	"bytes"
	"context"
	"io"
	"slices"
	"sync"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// memStore is a test stand-in for the engine: committed documents in key
// order, a Source over them, and a commit hook that feeds the index the way
// the engine does (submit after the commit, before acknowledging).
type memStore struct {
	mu   sync.Mutex
	keys []string // sorted
	docs map[string]memDoc
	m    *Manager
	ns   string
	cfg  api.NamespaceQueryConfig
}

type memDoc struct {
	version int64
	body    []byte
	hidden  bool
}

func newMemStore(ns string) *memStore {
	s := &memStore{docs: map[string]memDoc{}, ns: ns,
		cfg: api.NamespaceQueryConfig{PreferredEngine: api.EngineIndex, FallbackEngine: api.EngineScan}}
	s.m = NewManager(Options{Source: s, Config: func(context.Context, string) (api.NamespaceQueryConfig, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.cfg, nil
	}})
	return s
}

// commit stores body under key and returns the index sequence of the change.
func (s *memStore) commit(key string, body []byte, hidden bool) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[key]
	if !ok {
		i, _ := slices.BinarySearch(s.keys, key)
		s.keys = slices.Insert(s.keys, i, key)
	}
	d = memDoc{version: d.version + 1, body: body, hidden: hidden}
	s.docs[key] = d
	return s.m.Index(s.ns).Submit(Change{Key: key, Version: d.version, Hidden: hidden, Doc: body})
}

func (s *memStore) remove(key string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.docs[key]; ok {
		delete(s.docs, key)
		i, _ := slices.BinarySearch(s.keys, key)
		s.keys = slices.Delete(s.keys, i, i+1)
	}
	return s.m.Index(s.ns).Submit(Change{Key: key, Delete: true})
}

func (s *memStore) doc(key string, d memDoc) Doc {
	return Doc{Key: key, Version: d.version, Hidden: d.hidden, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(d.body)), nil
	}}
}

// Scan finds the next key under the lock at every step, so concurrent
// commits are allowed and keys present throughout are visited once.
func (s *memStore) Scan(ctx context.Context, ns, after string, fn func(Doc) error) error {
	for {
		s.mu.Lock()
		i, found := slices.BinarySearch(s.keys, after)
		if found {
			i++
		}
		if i >= len(s.keys) {
			s.mu.Unlock()
			return nil
		}
		key := s.keys[i]
		d := s.doc(key, s.docs[key])
		s.mu.Unlock()
		if err := fn(d); err != nil {
			return err
		}
		after = key
	}
}

func (s *memStore) Get(ctx context.Context, ns, key string) (Doc, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.docs[key]
	if !ok {
		return Doc{}, false, nil
	}
	return s.doc(key, d), true, nil
}

// queryAll pages through a query and returns every key.
func (s *memStore) queryAll(ctx context.Context, req Request) ([]string, Result, error) {
	var keys []string
	var last Result
	for {
		res, err := s.m.Query(ctx, req, func(r Row) error {
			keys = append(keys, r.Key)
			return nil
		})
		if err != nil {
			return nil, res, err
		}
		last = res
		if res.Cursor == "" {
			return keys, last, nil
		}
		req.Cursor = res.Cursor
	}
}
