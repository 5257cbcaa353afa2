package httpproxy

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/bodybudget"
)

// Defaults of [Limits].
const (
	// DefaultBodyBudget bounds the request bodies held at once when the
	// options set no budget.
	DefaultBodyBudget = 1 << 30
	// DefaultBodyReadTimeout is how long a request body may make no
	// progress before the request is answered 408.
	DefaultBodyReadTimeout = 60 * time.Second
	// DefaultMaxRequestHeaders is Envoy's max_headers_count.
	DefaultMaxRequestHeaders = 100
	// DefaultMaxRequestHeaderBytes is Envoy's max_request_headers_kb (60).
	DefaultMaxRequestHeaderBytes = 60 << 10
)

// initialBodyBuffer is the first allocation for a request body whose length
// is unknown or larger: memory follows the bytes that arrive, not the
// length a client declares.
const initialBodyBuffer = 16 << 10

// bodyRead is what reading one request body needs.
type bodyRead struct {
	budget *bodybudget.Budget
	// limit is the largest body accepted (413 beyond).
	limit int64
	// progress bounds the time between two reads that return bytes.
	progress time.Duration
	// deadline, when set, bounds the whole read (ClientTrafficPolicy
	// requestReceivedTimeout, from the request's start).
	deadline time.Time
}

// readBody reads the whole request body. The buffer grows as bytes arrive,
// each growth charged to the budget; the caller releases the returned
// charge when the request ends, also on error. A body that stops making
// progress, or misses the request's deadline, ends with a 408; one that
// does not fit in the budget with a 503.
func readBody(w http.ResponseWriter, r *http.Request, rd bodyRead) (body []byte, charged int64, err error) {
	if r.ContentLength > rd.limit {
		return nil, 0, apierror.BodyTooLarge(rd.limit)
	}
	if r.ContentLength == 0 {
		return nil, 0, nil
	}
	rc := http.NewResponseController(w)
	deadlines := rd.progress > 0 || !rd.deadline.IsZero()
	defer func() {
		if deadlines && err == nil {
			// The rest of the exchange is bounded by the route's timeouts.
			_ = rc.SetReadDeadline(time.Time{})
		}
	}()
	size := int64(initialBodyBuffer)
	if r.ContentLength > 0 {
		// One byte more than declared sees the end of the body in the
		// same read.
		size = min(size, r.ContentLength+1)
	}
	grow := func(n int64) error {
		if !rd.budget.Charge(n - int64(cap(body))) {
			return apierror.Overloaded("the gateway holds too many request bodies; retry later")
		}
		charged += n - int64(cap(body))
		nb := make([]byte, len(body), n)
		copy(nb, body)
		body = nb
		return nil
	}
	if err := grow(size); err != nil {
		return nil, charged, err
	}
	for {
		if len(body) == cap(body) {
			next := min(2*int64(cap(body)), rd.limit+1)
			if r.ContentLength > 0 {
				next = min(next, r.ContentLength+1)
			}
			if next <= int64(cap(body)) {
				next = int64(cap(body)) + 1
			}
			if err := grow(next); err != nil {
				return nil, charged, err
			}
		}
		if deadlines {
			d := rd.deadline
			if rd.progress > 0 {
				if p := time.Now().Add(rd.progress); d.IsZero() || p.Before(d) {
					d = p
				}
			}
			if err := rc.SetReadDeadline(d); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return nil, charged, apierror.InvalidRequest("", "reading the request body failed")
			}
		}
		n, rerr := r.Body.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if int64(len(body)) > rd.limit {
			return nil, charged, apierror.BodyTooLarge(rd.limit)
		}
		if rerr == nil {
			continue
		}
		if errors.Is(rerr, io.EOF) {
			return body, charged, nil
		}
		if errors.Is(rerr, os.ErrDeadlineExceeded) {
			return nil, charged, apierror.RequestBodyTimeout()
		}
		if ctxErr := r.Context().Err(); ctxErr != nil {
			return nil, charged, ctxErr
		}
		return nil, charged, apierror.InvalidRequest("", "reading the request body failed")
	}
}
