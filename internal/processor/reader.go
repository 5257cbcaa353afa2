package processor

import (
	"errors"
	"io"
)

// readBufferSize is the size of the buffers a response reader reads
// upstream bodies into; an SSE event is far smaller, a non-streamed body
// takes a few reads.
const readBufferSize = 16 << 10

// ResponseReader returns the client's body for the upstream body of the
// response passed on, for transports that move bodies as readers: it runs
// the pool picker's response phase, if any, then hands each read to
// [Session.ResponseBody]. For an event stream each complete event is
// returned as soon as it is whole, so nothing is buffered beyond the event
// in progress. Closing it closes upstream.
func (s *Session) ResponseReader(upstream io.ReadCloser) io.ReadCloser {
	if pk := s.pick; pk != nil && pk.Exchange != nil {
		upstream = pk.Exchange.ResponseBody(upstream)
	}
	return &responseReader{s: s, upstream: upstream}
}

type responseReader struct {
	s        *Session
	upstream io.ReadCloser
	buf      *[]byte
	pending  []byte
	done     bool
}

func (r *responseReader) Read(p []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.done {
			return 0, io.EOF
		}
		if r.buf == nil {
			r.buf = r.s.rt.p.buffers.Get().(*[]byte)
		}
		n, err := r.upstream.Read(*r.buf)
		eof := errors.Is(err, io.EOF)
		var out []byte
		if err != nil && !eof {
			r.done = true
			if out, err = r.s.ResponseBodyFailed(err); err != nil {
				return 0, err
			}
		} else {
			// out may alias the read buffer or the translator's own
			// buffer: both stay untouched until pending is consumed.
			if out, err = r.s.ResponseBody((*r.buf)[:n], eof); err != nil {
				r.done = true
				return 0, err
			}
			r.done = eof || r.s.done
		}
		r.pending = out
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

func (r *responseReader) Close() error {
	if r.buf != nil {
		r.s.rt.p.buffers.Put(r.buf)
		r.buf = nil
		r.pending = nil
	}
	r.s.endResponse()
	return r.upstream.Close()
}
