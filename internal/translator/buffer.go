package translator

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/sse"
)

// maxAccountedBody bounds how much of a non-streamed response is kept to
// read (or translate) it; larger bodies pass through unaccounted, or fail
// a translation.
const maxAccountedBody = 32 << 20

// bodyBuffer keeps a non-streamed response body up to maxAccountedBody.
type bodyBuffer struct {
	body   []byte
	tooBig bool
}

// add appends chunk, or drops the body once it is too large.
func (b *bodyBuffer) add(chunk []byte) {
	if b.tooBig {
		return
	}
	if len(b.body)+len(chunk) > maxAccountedBody {
		b.tooBig, b.body = true, nil
		return
	}
	b.body = append(b.body, chunk...)
}

// take returns the body (nil when it was too large) and forgets it.
func (b *bodyBuffer) take() []byte {
	body := b.body
	b.body = nil
	return body
}

// whole buffers a body to translate whole: it reports done at the body's
// end, with the body, or an error when it outgrew maxAccountedBody.
func (b *bodyBuffer) whole(chunk []byte, eos bool) (body []byte, done bool, err error) {
	b.add(chunk)
	if !eos {
		return nil, false, nil
	}
	tooBig, body := b.tooBig, b.take()
	if tooBig {
		return nil, true, fmt.Errorf("the response exceeds %d bytes, too large to translate", maxAccountedBody)
	}
	return body, true, nil
}

// withExtras sets the client's vendor fields on a translated body (as a
// provider that accepts them reads them), or returns it as it is when
// there are none.
func withExtras(body []byte, extras []jsonobj.Member) ([]byte, error) {
	if len(extras) == 0 {
		return body, nil
	}
	o, err := jsonobj.Parse(body)
	if err != nil {
		return nil, err
	}
	for _, m := range extras {
		o.Set(m.Key, m.Value)
	}
	return o.Bytes(), nil
}

// rewrittenHeaders prepares the response headers of a translation that
// rewrites the body, and reports whether the response is still the event
// stream the client asked for (an error answers a stream request with
// JSON).
func rewrittenHeaders(status int, h http.Header, stream bool) bool {
	stream = stream && status < 300 && strings.HasPrefix(h.Get("Content-Type"), "text/event-stream")
	h.Del("Content-Length") // the body is rewritten
	if !stream {
		h.Set("Content-Type", "application/json")
	}
	return stream
}

// newSplitter returns an SSE splitter bounding events to limit bytes (zero:
// DefaultMaxEventBytes).
func newSplitter(limit int) sse.Splitter {
	if limit <= 0 {
		limit = DefaultMaxEventBytes
	}
	return sse.Splitter{Limit: limit}
}
