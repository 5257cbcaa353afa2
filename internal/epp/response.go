package epp

import (
	"errors"
	"fmt"
	"io"
	"sync"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// ResponseBody streams the upstream body through the picker and returns
// what the client gets: the picker's streamed replacements as they arrive
// (GAIE's EPP echoes each SSE chunk at once and answers a non-streamed body
// at its end), or the original chunks where it answers with empty
// acknowledgements (lwepp). A sender goroutine keeps feeding the picker
// while the reader waits, so a picker that buffers cannot deadlock the
// stream. If the picker fails while only acknowledging, the original bytes
// not yet released are passed on, then the rest of the upstream: nothing is
// lost. Closing the body ends the exchange.
func (x *Exchange) ResponseBody(upstream io.ReadCloser) io.ReadCloser {
	rb := &responseBody{x: x, upstream: upstream, senderDone: make(chan struct{})}
	go rb.sendLoop()
	return rb
}

type sentChunk struct {
	data []byte
	eof  bool
}

type responseBody struct {
	x        *Exchange
	upstream io.ReadCloser

	mu         sync.Mutex
	queue      []sentChunk // sent to the picker, not yet released
	replacing  bool        // the picker sends replacements: drop originals
	senderErr  error       // an upstream read error, or a failed send
	senderDone chan struct{}

	// Reader state, used only by Read.
	pending  []byte
	finished bool
	fallback bool // the picker failed while acknowledging
	once     sync.Once
}

// sendLoop reads the upstream body and sends each chunk to the picker.
func (rb *responseBody) sendLoop() {
	defer close(rb.senderDone)
	buf := make([]byte, 32<<10)
	for {
		n, err := rb.upstream.Read(buf)
		eof := errors.Is(err, io.EOF)
		if err != nil && !eof {
			// The model server broke: end the exchange so the reader stops
			// waiting for the picker at once.
			rb.setErr(err)
			rb.x.Close()
			return
		}
		if n == 0 && !eof {
			continue
		}
		chunk := append([]byte(nil), buf[:n]...)
		rb.mu.Lock()
		if !rb.replacing {
			rb.queue = append(rb.queue, sentChunk{data: chunk, eof: eof})
		}
		rb.mu.Unlock()
		if serr := rb.x.send(&extprocv3.ProcessingRequest{
			Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: chunk, EndOfStream: eof}},
		}, "response body"); serr != nil {
			rb.setErr(serr)
			return
		}
		if eof {
			return
		}
	}
}

func (rb *responseBody) setErr(err error) {
	rb.mu.Lock()
	rb.senderErr = err
	rb.mu.Unlock()
}

func (rb *responseBody) Read(p []byte) (int, error) {
	for len(rb.pending) == 0 {
		if rb.finished {
			return 0, io.EOF
		}
		var err error
		if rb.fallback {
			err = rb.nextOriginal()
		} else {
			err = rb.nextFromPicker()
		}
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, rb.pending)
	rb.pending = rb.pending[n:]
	return n, nil
}

// nextFromPicker waits for one body answer and turns it into output.
func (rb *responseBody) nextFromPicker() error {
	resp, err := rb.x.next("a response body answer")
	if err != nil {
		rb.mu.Lock()
		replacing := rb.replacing
		upstreamErr := rb.senderErr
		rb.mu.Unlock()
		if replacing {
			if upstreamErr != nil && !errors.Is(upstreamErr, ErrPickerFailed) {
				return upstreamErr // the model server broke, not the picker
			}
			return err
		}
		// Acknowledgement mode: the originals are all still here.
		rb.fallback = true
		return nil
	}
	r, ok := resp.GetResponse().(*extprocv3.ProcessingResponse_ResponseBody)
	if !ok {
		if _, trailers := resp.GetResponse().(*extprocv3.ProcessingResponse_ResponseTrailers); trailers {
			return nil
		}
		return fmt.Errorf("%w: %s: unexpected %T in the response phase", ErrPickerFailed, rb.x.p.cfg.Name, resp.GetResponse())
	}
	mut := r.ResponseBody.GetResponse().GetBodyMutation()
	if sr := mut.GetStreamedResponse(); sr != nil {
		rb.startReplacing()
		rb.pending = append(rb.pending[:0], sr.GetBody()...)
		rb.finished = sr.GetEndOfStream()
		return nil
	}
	if b := mut.GetBody(); b != nil {
		rb.startReplacing()
		rb.pending = append(rb.pending[:0], b...)
		rb.finished = true
		return nil
	}
	// An empty answer releases the oldest original chunk.
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if len(rb.queue) == 0 {
		return fmt.Errorf("%w: %s: acknowledged a response chunk that was not sent", ErrPickerFailed, rb.x.p.cfg.Name)
	}
	c := rb.queue[0]
	rb.queue = rb.queue[1:]
	rb.pending, rb.finished = c.data, c.eof
	return nil
}

func (rb *responseBody) startReplacing() {
	rb.mu.Lock()
	rb.replacing = true
	rb.queue = nil
	rb.mu.Unlock()
}

// nextOriginal passes on the chunks the picker did not release, then the
// rest of the upstream body, after the picker failed.
func (rb *responseBody) nextOriginal() error {
	rb.mu.Lock()
	if len(rb.queue) > 0 {
		c := rb.queue[0]
		rb.queue = rb.queue[1:]
		rb.mu.Unlock()
		rb.pending, rb.finished = c.data, c.eof
		return nil
	}
	rb.mu.Unlock()
	<-rb.senderDone
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if len(rb.queue) > 0 {
		return nil // chunks queued before the sender stopped
	}
	switch err := rb.senderErr; {
	case err == nil:
		rb.finished = true
		return nil
	case errors.Is(err, ErrPickerFailed):
		// The sender stopped at a failed send; the upstream goes on.
		buf := make([]byte, 32<<10)
		n, rerr := rb.upstream.Read(buf)
		rb.pending = buf[:n]
		if errors.Is(rerr, io.EOF) {
			rb.finished = true
			return nil
		}
		return rerr
	default:
		return err
	}
}

func (rb *responseBody) Close() error {
	var err error
	rb.once.Do(func() {
		err = rb.upstream.Close()
		rb.x.Close()
	})
	return err
}
