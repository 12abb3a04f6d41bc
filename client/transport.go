package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
)

// endpoint is one lockd server as the SDK talks to it.
type endpoint struct {
	url  string // normalised endpoint, as reported in errors and logs
	base string // scheme://host[/prefix] that request paths are appended to
	hc   *http.Client
}

// noTimeout marks calls whose duration belongs to the caller's context:
// waiting acquires, streams and describe (WIRE §8.6).
const noTimeout time.Duration = -1

// call describes one logical request. do() turns it into one HTTP exchange
// per endpoint tried, so every operation of the SDK (and the query, queue and
// attachment ones still to come) shares failover, timeouts, correlation ids
// and drain detection.
type call struct {
	method    string
	path      string
	ns, key   string // sent as ?namespace=&key= when keyed
	keyed     bool
	query     string // further query parameters
	header    http.Header
	body      []byte    // replayable body, or nil
	stream    io.Reader // single-shot body; forces one attempt at one endpoint
	timeout   time.Duration
	preferred *endpoint
	retry     bool     // retry transport failures and passive nodes (WIRE §8.5)
	corr      string   // correlation id used when the context carries none
	vals      []string // unused header value slots, see setHeader

	// bound ends the per-request timeout of the last exchange; whoever
	// consumes the response body ends it (see finish).
	bound requestBound
}

// setHeader sets key (canonical already) to value. The one-element value
// slices are cut from one backing array per call, so a request's headers
// cost one allocation instead of one per header.
func (cl *call) setHeader(key, value string) {
	if len(cl.vals) == 0 {
		cl.vals = make([]string, 8)
	}
	v := cl.vals[:1:1] // capacity 1: an append elsewhere must copy, not clobber the next slot
	v[0] = value
	cl.vals = cl.vals[1:]
	cl.header[key] = v
}

// finish closes resp and ends the request's timeout.
func (cl *call) finish(resp *http.Response) {
	_ = resp.Body.Close()
	cl.done()
}

func (cl *call) done() { cl.bound.end() }

// buildEndpoints turns normalised URLs into endpoints with their HTTP clients.
func (c *Client) buildEndpoints(urls []string) error {
	var tcp *http.Client
	for _, raw := range urls {
		ep := &endpoint{url: raw}
		if path, ok := strings.CutPrefix(raw, "unix://"); ok {
			hc, useTLS, err := c.unixClient(path)
			if err != nil {
				return err
			}
			ep.hc = hc
			ep.base = "http://lockd"
			if useTLS {
				ep.base = "https://lockd"
			}
		} else {
			if tcp == nil {
				var err error
				if tcp, err = c.tcpClient(urls); err != nil {
					return err
				}
			}
			ep.hc = tcp
			ep.base = raw
		}
		c.endpoints = append(c.endpoints, ep)
	}
	return nil
}

func (c *Client) tcpClient(urls []string) (*http.Client, error) {
	if c.set.httpClient != nil {
		return c.set.httpClient, nil
	}
	var tlsCfg *tls.Config
	for _, u := range urls {
		if strings.HasPrefix(u, "https://") {
			cfg, err := c.tlsConfig()
			if err != nil {
				return nil, err
			}
			tlsCfg = cfg
			break
		}
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := newTransport(tlsCfg, dialer.DialContext)
	tr.Proxy = http.ProxyFromEnvironment
	c.closers = append(c.closers, tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, nil
}

// unixClient dials path for every connection. TLS is used over the socket
// only when the caller configured a bundle and did not disable mTLS; the
// embedded server listens on sockets in plain HTTP.
func (c *Client) unixClient(path string) (*http.Client, bool, error) {
	if path == "" {
		return nil, false, errors.New("lockd: unix endpoint needs a socket path")
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	if c.set.httpClient != nil {
		base, ok := c.set.httpClient.Transport.(*http.Transport)
		if c.set.httpClient.Transport == nil {
			base, ok = http.DefaultTransport.(*http.Transport)
		}
		if !ok {
			return c.set.httpClient, false, nil
		}
		tr := base.Clone()
		tr.DialContext = dial
		tr.Proxy = nil
		hc := *c.set.httpClient
		hc.Transport = tr
		c.closers = append(c.closers, tr.CloseIdleConnections)
		return &hc, tr.TLSClientConfig != nil && tr.TLSClientConfig.Certificates != nil, nil
	}
	var tlsCfg *tls.Config
	if !c.set.disableMTLS && (len(c.set.bundlePEM) > 0 || c.set.bundlePath != "") {
		cfg, err := c.tlsConfig()
		if err != nil {
			return nil, false, err
		}
		tlsCfg = cfg
	}
	tr := newTransport(tlsCfg, dial)
	c.closers = append(c.closers, tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, tlsCfg != nil, nil
}

func newTransport(tlsCfg *tls.Config, dial func(context.Context, string, string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		DialContext:           dial,
		MaxIdleConns:          DefaultMaxIdleConns,
		MaxIdleConnsPerHost:   DefaultMaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       tlsCfg,
		ForceAttemptHTTP2:     tlsCfg != nil,
	}
}

// order returns the endpoints to try for one request: shuffled unless
// disabled, with the preferred one (the endpoint that granted a lease) first.
func (c *Client) order(preferred *endpoint) []*endpoint {
	if len(c.endpoints) == 1 {
		return c.endpoints
	}
	out := make([]*endpoint, len(c.endpoints))
	copy(out, c.endpoints)
	if c.set.shuffle {
		rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	if preferred != nil {
		for i, ep := range out {
			if ep == preferred {
				copy(out[1:i+1], out[:i])
				out[0] = preferred
				break
			}
		}
	}
	return out
}

// do sends cl with failover (WIRE §8.6) and, when cl.retry is set, retries
// transport failures and passive nodes with a short doubling delay (§8.5).
// On success the caller owns resp.Body, whatever the status.
func (c *Client) do(ctx context.Context, cl *call) (*http.Response, *endpoint, error) {
	if cl.header == nil {
		cl.header = make(http.Header, 4)
	}
	if id := CorrelationIDFromContext(ctx); id != "" {
		cl.setHeader(api.HeaderCorrelationID, id)
	} else if cl.corr != "" {
		cl.setHeader(api.HeaderCorrelationID, cl.corr)
	}
	delay := failureRetryBase
	for attempt := 0; ; attempt++ {
		resp, ep, err := c.attempt(ctx, cl)
		if err == nil {
			if !cl.retry || resp.StatusCode != http.StatusServiceUnavailable {
				return resp, ep, nil
			}
			if code, _ := peekErrorCode(resp); code != api.ErrCodeNodePassive {
				return resp, ep, nil
			}
		}
		if !cl.retry || cl.stream != nil || ctx.Err() != nil ||
			(c.set.failureRetries >= 0 && attempt >= c.set.failureRetries) {
			return resp, ep, err
		}
		if resp != nil {
			cl.finish(resp)
		}
		c.logger.Debug("lockd: retrying request", "path", cl.path, "attempt", attempt+1, "delay", delay, "error", err)
		if err := sleepCtx(ctx, delay); err != nil {
			return nil, nil, err
		}
		delay = min(delay*2, failureRetryMax)
	}
}

// attempt tries the endpoints once each, in order. A transport error, or a
// 503 that is node_passive or has no body, moves on to the next endpoint;
// any other answer is final.
func (c *Client) attempt(ctx context.Context, cl *call) (*http.Response, *endpoint, error) {
	eps := c.order(cl.preferred)
	if cl.stream != nil {
		eps = eps[:1] // a stream cannot be replayed
	}
	var lastErr error
	for i, ep := range eps {
		resp, err := c.send(ctx, ep, cl)
		if err != nil {
			lastErr = fmt.Errorf("lockd: %s %s via %s: %w", cl.method, cl.path, ep.url, err)
			if ctx.Err() != nil {
				return nil, nil, lastErr
			}
			c.logger.Debug("lockd: endpoint failed", "endpoint", ep.url, "error", err)
			continue
		}
		c.noteDrain(resp, ep)
		if resp.StatusCode == http.StatusServiceUnavailable && i < len(eps)-1 {
			if code, empty := peekErrorCode(resp); code == api.ErrCodeNodePassive || empty {
				cl.finish(resp)
				lastErr = fmt.Errorf("lockd: %s %s via %s: passive node (503)", cl.method, cl.path, ep.url)
				continue
			}
		}
		return resp, ep, nil
	}
	return nil, nil, lastErr
}

// send performs one HTTP exchange with ep.
func (c *Client) send(ctx context.Context, ep *endpoint, cl *call) (*http.Response, error) {
	timeout := cl.timeout
	if timeout == 0 {
		timeout = c.timeout
	}
	var bound requestBound
	if timeout > 0 {
		ctx, bound = c.bound(ctx, timeout)
	}
	var body io.Reader
	switch {
	case cl.stream != nil:
		body = cl.stream
	case cl.body != nil:
		body = bytes.NewReader(cl.body)
	}
	// One concatenation: the URL is built on every request.
	var target string
	switch {
	case cl.keyed && cl.query != "":
		target = ep.base + cl.path + "?namespace=" + url.QueryEscape(cl.ns) + "&key=" + url.QueryEscape(cl.key) + "&" + cl.query
	case cl.keyed:
		target = ep.base + cl.path + "?namespace=" + url.QueryEscape(cl.ns) + "&key=" + url.QueryEscape(cl.key)
	case cl.query != "":
		target = ep.base + cl.path + "?" + cl.query
	default:
		target = ep.base + cl.path
	}
	if c.set.httpTrace {
		ctx = httptrace.WithClientTrace(ctx, c.trace(ep))
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		bound.end()
		return nil, err
	}
	req.Header = cl.header
	resp, err := ep.hc.Do(req)
	if err != nil {
		bound.end()
		return nil, err
	}
	cl.bound = bound
	return resp, nil
}

// streamBody hands resp.Body to a caller that reads it later: the
// request's timeout then ends when the caller closes the body.
func (cl *call) streamBody(resp *http.Response) io.ReadCloser {
	if !cl.bound.set() {
		return resp.Body
	}
	body := &cancelOnClose{ReadCloser: resp.Body, bound: cl.bound}
	cl.bound = requestBound{}
	return body
}

// cancelOnClose ties a per-request timeout to the life of the body, so a
// streamed response stays readable until the caller closes it. The mutex
// makes a second (or concurrent) Close harmless: a recycled bound must be
// ended exactly once, or it would end some later request's bound.
type cancelOnClose struct {
	io.ReadCloser
	mu    sync.Mutex
	bound requestBound
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.mu.Lock()
	b.bound.end()
	b.mu.Unlock()
	return err
}

// peekErrorCode reads a (small) error body, puts it back for later readers
// and returns its error code and whether it was empty.
func peekErrorCode(resp *http.Response) (string, bool) {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body = replayBody{Reader: bytes.NewReader(data), closer: resp.Body}
	if len(bytes.TrimSpace(data)) == 0 {
		return "", true
	}
	var env api.ErrorResponse
	_ = json.Unmarshal(data, &env)
	return env.ErrorCode, false
}

type replayBody struct {
	io.Reader
	closer io.Closer
}

func (r replayBody) Close() error { return r.closer.Close() }

// doJSON sends cl and decodes a 2xx JSON body into out. Non-2xx answers
// become *APIError. The response headers are returned for bookkeeping.
func (c *Client) doJSON(ctx context.Context, cl *call, out any) (http.Header, *endpoint, error) {
	resp, ep, err := c.do(ctx, cl)
	if err != nil {
		return nil, nil, err
	}
	defer cl.done()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, ep, newAPIError(resp)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.Header, ep, fmt.Errorf("lockd: decode %s response: %w", cl.path, err)
		}
	}
	// Reading to EOF lets the connection go back to the pool.
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Header, ep, nil
}

// jsonCall prepares a POST of v as JSON.
func jsonCall(path string, v any) (call, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return call{}, fmt.Errorf("lockd: encode %s request: %w", path, err)
	}
	cl := call{method: http.MethodPost, path: path, header: make(http.Header, 4), body: body}
	cl.setHeader("Content-Type", "application/json")
	return cl, nil
}

// noteDrain starts the drain handler when ep announces its shutdown.
func (c *Client) noteDrain(resp *http.Response, ep *endpoint) {
	if !c.set.drainAware {
		return
	}
	v := resp.Header.Get(api.HeaderShutdownImminent)
	if v == "" {
		return
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		c.drainEndpoint(ep)
	}
}

func (c *Client) trace(ep *endpoint) *httptrace.ClientTrace {
	log := c.logger.With("endpoint", ep.url)
	return &httptrace.ClientTrace{
		GetConn: func(hostPort string) { log.Debug("lockd trace: get conn", "addr", hostPort) },
		GotConn: func(info httptrace.GotConnInfo) {
			log.Debug("lockd trace: got conn", "reused", info.Reused, "idle", info.IdleTime)
		},
		ConnectDone: func(network, addr string, err error) {
			log.Debug("lockd trace: connect done", "network", network, "addr", addr, "error", err)
		},
		TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
			log.Debug("lockd trace: tls handshake", "version", tls.VersionName(cs.Version), "error", err)
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			log.Debug("lockd trace: wrote request", "error", info.Err)
		},
		GotFirstResponseByte: func() { log.Debug("lockd trace: first response byte") },
	}
}

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }

// sleepCtx sleeps for d unless ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
