package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lockd-mcp/lockd-mcp/api"
	"github.com/lockd-mcp/lockd-mcp/lql"
)

// MutateLocalOptions configure a client-side mutation of a session's state.
type MutateLocalOptions struct {
	// Update carries CAS guards, fencing and txn overrides for the write.
	Update UpdateOptions
	// DisableFetchedCAS stops the write from being guarded by the ETag and
	// version of the state that was read and mutated.
	DisableFetchedCAS bool
	// FileValueBaseDir anchors relative file:/textfile:/base64file: paths.
	FileValueBaseDir string
	// FileValueResolver replaces how file values are resolved and opened
	// (tests, sandboxes); its BaseDir wins over FileValueBaseDir.
	FileValueResolver lql.MutationFileValueResolver
}

// MutateLocalRequest is a client-side mutation of one key under a lease.
type MutateLocalRequest struct {
	// Key is the state to mutate.
	Key string
	// LeaseID is the lease held on Key; empty means the sticky lease.
	LeaseID string
	// Mutations are LQL mutation expressions, applied in order.
	Mutations []string
	// Options carries namespace, CAS guards, fencing and txn overrides.
	Options UpdateOptions
	// DisableFetchedCAS: see MutateLocalOptions.
	DisableFetchedCAS bool
	// FileValueBaseDir: see MutateLocalOptions.
	FileValueBaseDir string
	// FileValueResolver: see MutateLocalOptions.
	FileValueResolver lql.MutationFileValueResolver
}

// MutateLocal applies LQL mutations in this process: the lease holder's
// view of the state is streamed from the server through lql.MutateStream
// and straight back as the request body of a streaming update, so neither
// the document nor the result is ever held in memory. Unlike Mutate it
// accepts file:, textfile: and base64file: values, read from this machine.
// The write is guarded by the ETag and version of what was read unless
// DisableFetchedCAS is set.
func (c *Client) MutateLocal(ctx context.Context, req MutateLocalRequest) (*UpdateResult, error) {
	ref, err := c.resolveLease(req.Options.Namespace, req.Key, req.LeaseID, req.Options.TxnID, req.Options.FencingToken)
	if err != nil {
		return nil, fmt.Errorf("mutate local %s: %w", req.Key, err)
	}
	res, _, err := c.mutateLocal(ctx, ref, req.Mutations, MutateLocalOptions{
		Update:            req.Options,
		DisableFetchedCAS: req.DisableFetchedCAS,
		FileValueBaseDir:  req.FileValueBaseDir,
		FileValueResolver: req.FileValueResolver,
	})
	return res, err
}

// MutateLocal applies LQL mutations in this process to the session's state;
// see Client.MutateLocal.
func (s *LeaseSession) MutateLocal(ctx context.Context, mutations []string, options MutateLocalOptions) (*UpdateResult, error) {
	if err := s.active(); err != nil {
		return nil, err
	}
	res, hdr, err := s.client.mutateLocal(ctx, s.refFor(options.Update.TxnID, options.Update.FencingToken), mutations, options)
	if err != nil {
		return nil, s.check(err)
	}
	s.observe(res.NewVersion, res.NewStateETag, true, headerInt(hdr, api.HeaderFencingToken))
	return res, nil
}

// errUploadDone stops a mutator whose output is no longer being read.
var errUploadDone = errors.New("lockd: upload finished")

func (c *Client) mutateLocal(ctx context.Context, ref leaseRef, mutations []string, opts MutateLocalOptions) (*UpdateResult, http.Header, error) {
	resolver := opts.FileValueResolver
	if resolver.BaseDir == "" {
		resolver.BaseDir = strings.TrimSpace(opts.FileValueBaseDir)
	}
	muts, err := lql.ParseMutationsWithOptions(mutations, time.Now(), lql.ParseMutationsOptions{Files: &resolver})
	if err != nil {
		return nil, nil, fmt.Errorf("mutate local %s/%s: %w", ref.namespace, ref.key, err)
	}
	// The read stays open while the update streams, so neither call may be
	// cut short by the per-request timeout; ctx bounds both.
	resp, err := c.get(ctx, ref.namespace, ref.key, &ref, noTimeout)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var src io.Reader = resp.Body
	if resp.StatusCode == http.StatusNoContent {
		src = strings.NewReader("{}")
	} else if !opts.DisableFetchedCAS {
		if opts.Update.IfETag == "" {
			opts.Update.IfETag = unquote(resp.Header.Get(api.HeaderETag))
		}
		if v, err := strconv.ParseInt(resp.Header.Get(api.HeaderKeyVersion), 10, 64); err == nil && v > 0 && opts.Update.IfVersion == nil {
			opts.Update.IfVersion = &v
		}
	}

	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	mutErr := make(chan error, 1)
	go func() {
		_, err := lql.MutateStream(mctx, src, pw, muts, lql.MutateOptions{Mode: lql.MutateSingleObject})
		pw.CloseWithError(err)
		mutErr <- err
	}()
	res, hdr, err := c.update(ctx, ref, nil, pr, opts.Update)
	// Unblock the mutator if the upload ended early, then collect its error:
	// a failed mutation explains a failed upload better than the transport.
	pr.CloseWithError(errUploadDone)
	cancel()
	if merr := <-mutErr; merr != nil && err != nil && !errors.Is(merr, errUploadDone) && !errors.Is(merr, context.Canceled) {
		return nil, hdr, fmt.Errorf("mutate local %s/%s: %w", ref.namespace, ref.key, merr)
	}
	return res, hdr, err
}
