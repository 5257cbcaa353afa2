// Package modelname puts back the model name a client asked for in the
// responses of a model server that was sent another one: after a pool's
// InferenceModelRewrite or an x-gateway-model-name-rewrite, GAIE's endpoint
// picker restores the client's name in every "model" member of the response
// body, and so do `aigw epp` and the gateway's own picking.
package modelname

import (
	"bytes"
	"encoding/json"
	"io"
)

// key starts every pattern the restorer looks for.
var key = []byte(`"model":`)

// Restorer replaces the served model name with the client's in a response
// body that arrives in chunks, in the two spellings model servers write
// ("model":"x" and "model": "x"), including a name that straddles two
// chunks: a chunk's tail that could begin a pattern is held back until the
// next chunk shows whether it does. Nothing else is held, so server-sent
// events, which end in blank lines, flow through at once. A Restorer is
// for one response and not safe for concurrent use.
type Restorer struct {
	old, new [2][]byte
	held     []byte
}

// NewRestorer returns a Restorer that replaces served with requested.
func NewRestorer(served, requested string) *Restorer {
	s, q := quote(served), quote(requested)
	r := &Restorer{}
	for i, sep := range [...]string{`"model":`, `"model": `} {
		r.old[i] = append([]byte(sep), s...)
		r.new[i] = append([]byte(sep), q...)
	}
	return r
}

// quote returns s as a JSON string the way model servers write it: UTF-8
// and <, >, & as they are (Python's json and Go's encoding/json with HTML
// escaping off agree on those).
func quote(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // strings always encode
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Restore returns what can be sent of the body so far, chunk being its
// next bytes; eof flushes what was held back. The result may alias chunk.
func (r *Restorer) Restore(chunk []byte, eof bool) []byte {
	data := chunk
	if len(r.held) > 0 {
		data = append(r.held, chunk...)
		r.held = nil
	}
	var out []byte // nil until something is replaced
	done := 0      // data[:done] is in out (or unchanged, while out is nil)
	for i := 0; ; {
		j := bytes.Index(data[i:], key)
		if j < 0 {
			break
		}
		j += i
		i = j + 1
		for p, old := range r.old {
			if bytes.HasPrefix(data[j:], old) {
				out = append(out, data[done:j]...)
				out = append(out, r.new[p]...)
				done = j + len(old)
				i = done
				break
			}
		}
	}
	end := len(data)
	if !eof {
		end = done + r.partialTail(data[done:])
		if end < len(data) {
			r.held = append([]byte(nil), data[end:]...)
		}
	}
	if out == nil {
		return data[:end]
	}
	return append(out, data[done:end]...)
}

// partialTail returns where in b the longest suffix that is a proper prefix
// of a pattern starts, or len(b).
func (r *Restorer) partialTail(b []byte) int {
	longest := max(len(r.old[0]), len(r.old[1]))
	for k := max(0, len(b)-longest+1); k < len(b); k++ {
		for _, old := range r.old {
			if len(b)-k < len(old) && bytes.HasPrefix(old, b[k:]) {
				return k
			}
		}
	}
	return len(b)
}

// Reader restores the model name in body as it is read.
func Reader(body io.ReadCloser, r *Restorer) io.ReadCloser {
	return &reader{body: body, r: r}
}

type reader struct {
	body    io.ReadCloser
	r       *Restorer
	pending []byte // restored bytes not yet returned
	buf     []byte
	err     error // the body's error, returned once pending is drained
}

func (rd *reader) Read(p []byte) (int, error) {
	for len(rd.pending) == 0 {
		if rd.err != nil {
			return 0, rd.err
		}
		if rd.buf == nil {
			rd.buf = make([]byte, 32<<10)
		}
		n, err := rd.body.Read(rd.buf)
		eof := err != nil
		rd.pending = rd.r.Restore(rd.buf[:n], eof)
		if eof {
			rd.err = err
		}
	}
	// pending may alias buf: buf is read into again only once it drained.
	n := copy(p, rd.pending)
	rd.pending = rd.pending[n:]
	return n, nil
}

func (rd *reader) Close() error { return rd.body.Close() }
