package extproc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/bodybudget"
	"github.com/aigw-dev/aigw/internal/labels"
	"github.com/aigw-dev/aigw/internal/processor"
)

// Headers and keys of Envoy AI Gateway's ext_proc contract.
const (
	// HeaderInternalRequestID correlates a request's router-level stream
	// with its upstream-level streams.
	HeaderInternalRequestID = "x-ai-eg-internal-req-id"
	// HeaderOriginalPath keeps the client's path, which the upstream
	// filter rewrites.
	HeaderOriginalPath = "x-ai-eg-original-path"
	// AttributesKey holds the request attributes Envoy sends the upstream
	// filter (and only it).
	AttributesKey = "envoy.filters.http.ext_proc"
	// MetadataNamespace holds the dynamic metadata written at the end of a
	// response (costs, backend and model names, token latencies).
	MetadataNamespace = "io.envoy.ai_gateway"
)

// DefaultMaxSessions bounds the requests in progress when the options set
// no bound.
const DefaultMaxSessions = 1 << 16

// Options configure a [Server].
type Options struct {
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Runtime returns the configuration in force; each request keeps the
	// one it started with.
	Runtime func() *processor.Runtime
	// MaxSessions bounds the requests in progress at once (their state
	// lives from the router-level request headers to the end of the
	// router-level stream); beyond, requests are answered 503
	// (DefaultMaxSessions).
	MaxSessions int
	// BodyBudget bounds the request bodies held at once, across every
	// stream; a request whose body does not fit is answered 503
	// overloaded. Nil: DefaultBodyBudget.
	BodyBudget *bodybudget.Budget
}

// DefaultBodyBudget bounds the request bodies held at once when the
// options set no budget.
const DefaultBodyBudget = 1 << 30

// Server is an Envoy ext_proc server (envoy.service.ext_proc.v3) that
// drives the gateway's pipeline as Envoy AI Gateway's external processor
// does: a router-level stream per request, an upstream-level stream per
// attempt. It is safe for concurrent use.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer
	logger   *slog.Logger
	runtime  func() *processor.Runtime
	sessions sessions
	budget   *bodybudget.Budget
}

// New returns a server.
func New(opts Options) *Server {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.BodyBudget == nil {
		opts.BodyBudget = bodybudget.New(DefaultBodyBudget)
	}
	return &Server{logger: logger, runtime: opts.Runtime, budget: opts.BodyBudget, sessions: sessions{m: map[string]*entry{}, limit: opts.MaxSessions}}
}

// Sessions returns how many requests are in progress.
func (s *Server) Sessions() int { return s.sessions.len() }

// Process implements [extprocv3.ExternalProcessorServer]: the stream's
// first message tells the two levels apart: only the upstream filter sends
// the upstream's (xds.*) attributes; the router-level filter may send
// request attributes of its own, such as the client's address.
func (s *Server) Process(st extprocv3.ExternalProcessor_ProcessServer) error {
	first, err := st.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if isUpstreamLevel(first.GetAttributes()[AttributesKey]) {
		return s.upstream(st, first)
	}
	r := &routerStream{srv: s, st: st, ctx: st.Context()}
	return r.run(first)
}

// entry is one request's session, shared by its streams.
type entry struct {
	mu sync.Mutex
	s  *processor.Session
	// backendName is the per-rule backend name of the last attempt, as
	// Envoy named it to the upstream filter.
	backendName string
}

// sessions maps internal request IDs to sessions, bounded.
type sessions struct {
	mu    sync.Mutex
	m     map[string]*entry
	limit int
}

func (t *sessions) add(id string, e *entry) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= t.limit {
		return false
	}
	t.m[id] = e
	return true
}

func (t *sessions) get(id string) *entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[id]
}

func (t *sessions) remove(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, id)
}

func (t *sessions) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// newInternalID returns "<request id>-<random>", unguessable so that no
// client can reach another request's state (the router-level answer
// overwrites any copy a client sent).
func newInternalID(requestID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return labels.Truncate(requestID, 128) + "-" + hex.EncodeToString(b[:])
}

// errStreamDone ends a stream after an immediate response.
var errStreamDone = errors.New("stream answered")

// immediate answers the client with an OpenAI-shaped error instead of
// going on, and ends the stream.
func immediate(st extprocv3.ExternalProcessor_ProcessServer, err error) error {
	code, body := apierror.Render(err)
	e := apierror.Classify(err)
	mut := &extprocv3.HeaderMutation{}
	setHeader(mut, "content-type", "application/json")
	if e.Allow != "" {
		setHeader(mut, "allow", e.Allow)
	}
	if e.Challenge != "" {
		setHeader(mut, "www-authenticate", e.Challenge)
	}
	for name, values := range e.Header {
		for _, v := range values {
			setHeader(mut, strings.ToLower(name), v)
		}
	}
	return respondImmediate(st, code, mut, append(body, '\n'), e.Message)
}

// local answers with a response the gateway gives itself.
func local(st extprocv3.ExternalProcessor_ProcessServer, lr *processor.LocalResponse, head bool) error {
	mut := &extprocv3.HeaderMutation{}
	for name, values := range lr.Header {
		for _, v := range values {
			setHeader(mut, name, v)
		}
	}
	body := lr.Body
	if head {
		body = nil
	}
	return respondImmediate(st, lr.Status, mut, body, "")
}

func respondImmediate(st extprocv3.ExternalProcessor_ProcessServer, code int, mut *extprocv3.HeaderMutation, body []byte, details string) error {
	err := st.Send(&extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{ImmediateResponse: &extprocv3.ImmediateResponse{
		Status:  &typev3.HttpStatus{Code: typev3.StatusCode(code)},
		Headers: mut,
		Body:    body,
		Details: labels.Truncate(details, labels.MaxLogErrorBytes),
	}}})
	if err != nil {
		return err
	}
	return errStreamDone
}

// unexpected is the error of a message the stream's level never gets.
func unexpected(what string) error {
	return status.Errorf(codes.InvalidArgument, "unexpected ext_proc message: %s", what)
}

// contextCause is why ctx ended, nil while it has not.
func contextCause(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return context.Cause(ctx)
}
