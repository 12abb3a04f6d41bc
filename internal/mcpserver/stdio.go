package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/lockd-mcp/lockd-mcp/tools"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Our own stdio loop in front of mcp-go's HandleMessage.
//
// mcp-go's StdioServer was the bottleneck of every call (profiles in the
// commit message): it starts a goroutine per line, decodes each line five
// times before HandleMessage (a RawMessage check, three probes for replies
// to server requests we never send, a method probe) and hands tool calls to
// workers through a queue. For a 1 KiB tool call that was most of the
// latency; for a 256 KiB write-stream chunk it was ~30 ms of JSON scanning.
//
// This loop reads lines on one goroutine, learns method and id in one scan
// that does not decode (scanEnvelope), lifts large string arguments out of
// tool calls (lift.go), and passes the message to HandleMessage, which keeps
// mcp-go's semantics: initialize, hooks, input-schema validation, recovery,
// tool dispatch. Routing is mcp-go's: tool calls run on a bounded set of
// workers, other requests on their own goroutines (a blocking one must not
// stall the loop), notifications in order on the loop itself.

// stdioQueue is how many tool calls may wait for a worker before the loop
// runs one itself (mcp-go's queue size and fallback).
const stdioQueue = 100

// stdioLineBudget caps the bytes of lines read but not yet handled.
const stdioLineBudget = 16 << 20

type stdioLoop struct {
	srv     *server.MCPServer
	out     *syncWriter
	large   map[string][]string // tool name (both spellings) -> liftable args
	report  func(msg string, args ...any)
	workers int
	budget  *lineBudget

	// Tool calls go to long-lived workers: a goroutine per call would start
	// on a small stack and grow it through HandleMessage on every call
	// (runtime.newstack was 7% of CPU in the cycle benchmark).
	calls  chan func()
	workWG sync.WaitGroup
	mu     sync.Mutex // guards closed, the send on calls and reqWG.Add
	closed bool
	reqWG  sync.WaitGroup
}

// listen serves in until EOF (nil) or ctx ends (ctx.Err()), then cancels
// and waits for the calls still running.
func (l *stdioLoop) listen(ctx context.Context, in io.Reader) error {
	sess := &stdioSession{notifications: make(chan mcp.JSONRPCNotification, 100)}
	if err := l.srv.RegisterSession(ctx, sess); err != nil {
		return fmt.Errorf("register session: %w", err)
	}
	defer l.srv.UnregisterSession(ctx, sess.SessionID())
	ctx = l.srv.WithContext(ctx, sess)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	go func() {
		for {
			select {
			case n := <-sess.notifications:
				l.write(n)
			case <-ctx.Done():
				return
			}
		}
	}()

	l.calls = make(chan func(), stdioQueue)
	for range l.workers {
		l.workWG.Go(func() {
			for call := range l.calls {
				call()
			}
		})
	}

	// The read blocks in a syscall that ctx cannot interrupt, so it runs on
	// its own goroutine; on a signal we stop waiting for it (the process is
	// about to exit).
	done := make(chan error, 1)
	go func() { done <- l.read(ctx, in) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	cancel()
	l.mu.Lock()
	l.closed = true
	close(l.calls)
	l.mu.Unlock()
	l.workWG.Wait()
	l.reqWG.Wait()
	return err
}

// read dispatches each line of in. A last line without a newline is
// dropped, as mcp-go does.
func (l *stdioLoop) read(ctx context.Context, in io.Reader) error {
	br := bufio.NewReaderSize(in, 64<<10)
	for {
		line, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			l.report("reading stdin", "err", err)
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n := l.budget.acquire(cap(line))
		l.dispatch(ctx, line, func() { l.budget.release(n) })
	}
}

// readLine returns the next line without its newline, in a buffer of its
// own: a lifted argument aliases it while a worker runs the call.
func readLine(br *bufio.Reader) ([]byte, error) {
	frag, err := br.ReadSlice('\n')
	if err == nil {
		return bytes.Clone(frag[:len(frag)-1]), nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	line := make([]byte, 0, 2*len(frag))
	line = append(line, frag...)
	for {
		frag, err = br.ReadSlice('\n')
		line = append(line, frag...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return nil, err
		}
	}
}

// dispatch routes one line; done is called once the line is no longer
// needed (its call finished, or it was dropped).
func (l *stdioLoop) dispatch(ctx context.Context, line []byte, done func()) {
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		done()
		return
	}
	env, err := scanEnvelope(line)
	if err != nil {
		// Not an object we can read without decoding: let encoding/json
		// decide, as mcp-go's loop does.
		var probe struct {
			Method string `json:"method"`
			ID     any    `json:"id"`
		}
		if json.Unmarshal(line, &probe) != nil {
			l.write(mcp.JSONRPCError{
				JSONRPC: mcp.JSONRPC_VERSION,
				ID:      mcp.NewRequestId(nil),
				Error:   mcp.NewJSONRPCErrorDetails(mcp.PARSE_ERROR, "Parse error", nil),
			})
			done()
			return
		}
		env = envelope{method: probe.Method, hasID: probe.ID != nil}
	}
	msg, lifted := lift(line, env, l.large)
	run := func() {
		defer done()
		l.handle(ctx, msg, lifted)
	}
	switch {
	case env.method == string(mcp.MethodToolsCall) && env.hasID:
		l.mu.Lock()
		queued, closed := false, l.closed
		if !closed {
			select {
			case l.calls <- run:
				queued = true
			default:
			}
		}
		l.mu.Unlock()
		switch {
		case queued:
		case closed:
			done()
		default:
			// Queue full: run it here, as mcp-go does.
			run()
		}
	case env.hasID:
		l.mu.Lock()
		if l.closed {
			done()
		} else {
			l.reqWG.Go(run)
		}
		l.mu.Unlock()
	default:
		run()
	}
}

// lineBudget bounds the bytes of lines read but not yet handled. A line is
// held until its call finishes (a lifted chunk is written upstream from
// it), so a client that pipelines large appends would otherwise grow the
// heap by (workers + queue) lines; with the budget it meets backpressure on
// stdin instead, and memory stays flat.
type lineBudget struct {
	mu   sync.Mutex
	cond sync.Cond
	used int
	max  int
}

func newLineBudget(max int) *lineBudget {
	b := &lineBudget{max: max}
	b.cond.L = &b.mu
	return b
}

// acquire waits until n bytes fit and returns what it took (a line larger
// than the whole budget takes all of it, so it still runs, alone).
func (b *lineBudget) acquire(n int) int {
	n = min(n, b.max)
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.used+n > b.max {
		b.cond.Wait()
	}
	b.used += n
	return n
}

func (b *lineBudget) release(n int) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// handle runs one message through mcp-go and writes the response. A panic
// becomes an INTERNAL_ERROR response carrying the request's id.
func (l *stdioLoop) handle(ctx context.Context, msg []byte, lifted tools.LiftedArgs) {
	if lifted != nil {
		ctx = tools.WithLiftedArgs(ctx, lifted)
	}
	resp := func() (resp mcp.JSONRPCMessage) {
		defer func() {
			if r := recover(); r != nil {
				l.report("panic in MCP handler", "panic", r)
				var probe struct {
					ID any `json:"id"`
				}
				if json.Unmarshal(msg, &probe) == nil && probe.ID != nil {
					resp = mcp.JSONRPCError{
						JSONRPC: mcp.JSONRPC_VERSION,
						ID:      mcp.NewRequestId(probe.ID),
						Error:   mcp.NewJSONRPCErrorDetails(mcp.INTERNAL_ERROR, fmt.Sprintf("internal panic: %v", r), nil),
					}
				}
			}
		}()
		return l.srv.HandleMessage(ctx, msg)
	}()
	if resp != nil {
		l.write(resp)
	}
}

// write sends one message as one line with one Write call.
func (l *stdioLoop) write(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		l.report("encoding response", "err", err)
		return
	}
	if _, err := l.out.Write(append(data, '\n')); err != nil {
		l.report("writing stdout", "err", err)
	}
}

// stdioSession is the single client of a stdio server.
type stdioSession struct {
	notifications chan mcp.JSONRPCNotification
	initialized   atomic.Bool
	logLevel      atomic.Value

	mu      sync.RWMutex
	info    mcp.Implementation
	caps    mcp.ClientCapabilities
	version string
}

var (
	_ server.SessionWithLogging         = (*stdioSession)(nil)
	_ server.SessionWithClientInfo      = (*stdioSession)(nil)
	_ server.SessionWithProtocolVersion = (*stdioSession)(nil)
)

func (s *stdioSession) SessionID() string { return "stdio" }
func (s *stdioSession) NotificationChannel() chan<- mcp.JSONRPCNotification {
	return s.notifications
}
func (s *stdioSession) Initialized() bool { return s.initialized.Load() }
func (s *stdioSession) Initialize() {
	s.logLevel.Store(mcp.LoggingLevelError)
	s.initialized.Store(true)
}

func (s *stdioSession) SetLogLevel(level mcp.LoggingLevel) { s.logLevel.Store(level) }
func (s *stdioSession) GetLogLevel() mcp.LoggingLevel {
	if level, ok := s.logLevel.Load().(mcp.LoggingLevel); ok {
		return level
	}
	return mcp.LoggingLevelError
}

func (s *stdioSession) GetClientInfo() mcp.Implementation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.info
}

func (s *stdioSession) SetClientInfo(info mcp.Implementation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.info = info
}

func (s *stdioSession) GetClientCapabilities() mcp.ClientCapabilities {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.caps
}

func (s *stdioSession) SetClientCapabilities(caps mcp.ClientCapabilities) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caps = caps
}

func (s *stdioSession) ProtocolVersion() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

func (s *stdioSession) SetProtocolVersion(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.version = v
}
