package httpproxy

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/sse"
	"github.com/aigw-dev/aigw/internal/translator"
)

// responseBody passes the upstream body through the attempt's translator.
// For SSE each complete event is handed on as soon as it is whole (the
// ReverseProxy flushes every write of an event stream), so nothing is
// buffered beyond the event in progress. A failure after the response
// started ends an event stream with an SSE error event; other bodies are
// aborted.
type responseBody struct {
	upstream io.ReadCloser
	tr       translator.Translator
	st       *requestState
	sse      bool

	pool    *sync.Pool
	buf     *[]byte
	pending []byte
	done    bool
}

// readBufferSize is the size of the buffers responseBody reads upstream
// bodies into; an SSE event is far smaller, a non-streamed body takes a few
// reads.
const readBufferSize = 16 << 10

var _ io.ReadCloser = (*responseBody)(nil)

func newReadBufferPool() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}
}

func (b *responseBody) Read(p []byte) (int, error) {
	for len(b.pending) == 0 {
		if b.done {
			return 0, io.EOF
		}
		if b.buf == nil {
			b.buf = b.pool.Get().(*[]byte)
		}
		n, err := b.upstream.Read(*b.buf)
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			if b.tr.Complete() {
				// The stream already ended for the client ([DONE] sent);
				// a broken tail loses nothing.
				b.done, b.st.completed = true, true
				return 0, io.EOF
			}
			return b.fail(p, nil, err)
		}
		// out may alias the read buffer or the translator's own buffer:
		// both stay untouched until pending is consumed.
		out, terr := b.tr.ResponseBody((*b.buf)[:n], eof)
		if terr != nil {
			return b.fail(p, out, terr)
		}
		if len(out) > 0 {
			b.pending = out
			if b.st.firstByte.IsZero() {
				b.st.firstByte = time.Now()
			}
		}
		if eof {
			b.done = true
		}
		if b.tr.Complete() {
			b.st.completed = true
		}
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

// fail records err and, for an event stream, sends one error event in the
// OpenAI shape (after out, the events translated before the failure)
// before ending the stream cleanly; other bodies end with err, which makes
// the proxy abort the client's connection.
func (b *responseBody) fail(p, out []byte, err error) (int, error) {
	e := streamError(err)
	b.st.err = e
	b.done = true
	if !b.sse {
		return 0, err
	}
	_, body := apierror.Render(e)
	event := make([]byte, 0, len(out)+len(body)+8)
	event = append(event, out...)
	event = append(event, "data: "...)
	event = append(event, body...)
	event = append(event, '\n', '\n')
	b.pending = event
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}

// streamError maps the failure of a response already under way to the
// client-facing error it is reported as: the route's timeout, the
// gateway's shutdown, an upstream silent too long, an oversized event, or
// an upstream failure.
func streamError(err error) *apierror.Error {
	var e *apierror.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.Canceled):
		return apierror.Classify(err) // the client went away: 499
	case errors.Is(err, apierror.ErrShutdown):
		return apierror.Shutdown(err)
	case errors.Is(err, errRequestTimeout):
		return apierror.RequestTimeout(err)
	case errors.Is(err, apierror.ErrUpstreamTimeout):
		return apierror.UpstreamTimeout(err)
	case errors.Is(err, sse.ErrEventTooLarge):
		return apierror.UpstreamEventTooLarge(err)
	default:
		return apierror.Upstream(err)
	}
}

func (b *responseBody) Close() error {
	if b.buf != nil {
		b.pool.Put(b.buf)
		b.buf = nil
		b.pending = nil
	}
	b.st.usage = b.tr.Usage()
	b.st.respModel = b.tr.ResponseModel()
	return b.upstream.Close()
}
