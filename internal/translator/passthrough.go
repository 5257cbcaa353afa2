package translator

import (
	"net/http"

	"github.com/aigw-dev/aigw/internal/llm"
)

// passThrough forwards a request of a Gateway API HTTPRoute untouched: the
// client's method, path and body, and the response as it comes. It reads no
// usage (as with a plain HTTPRoute in Envoy AI Gateway).
type passThrough struct {
	complete bool
}

// Request implements [Translator.Request].
func (*passThrough) Request(req *llm.Request) (*Upstream, error) {
	return &Upstream{Path: req.Path, Body: req.Body}, nil
}

// ResponseHeaders implements [Translator.ResponseHeaders].
func (*passThrough) ResponseHeaders(int, http.Header) error { return nil }

// ResponseBody implements [Translator.ResponseBody].
func (t *passThrough) ResponseBody(chunk []byte, endOfStream bool) ([]byte, error) {
	if endOfStream {
		t.complete = true
	}
	return chunk, nil
}

// Usage implements [Translator.Usage].
func (*passThrough) Usage() llm.Usage { return llm.Usage{} }

// ResponseModel implements [Translator.ResponseModel].
func (*passThrough) ResponseModel() string { return "" }

// Complete implements [Translator.Complete].
func (t *passThrough) Complete() bool { return t.complete }
