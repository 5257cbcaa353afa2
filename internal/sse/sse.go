// Package sse frames a Server-Sent Events byte stream into events
// incrementally, without waiting for more than the bytes of the event in
// progress (WHATWG HTML, "Server-sent events", §9.2.6).
//
// This package must not import any other package of this module.
package sse

import "bytes"

// Splitter cuts a byte stream into whole events. The zero value is ready to
// use; a Splitter is not safe for concurrent use.
type Splitter struct {
	buf []byte
}

// Feed appends p to the bytes in progress and calls fn with each complete
// event, terminator included. The slice passed to fn is valid only during
// the call.
func (s *Splitter) Feed(p []byte, fn func(event []byte)) {
	data := p
	if len(s.buf) > 0 {
		s.buf = append(s.buf, p...)
		data = s.buf
	}
	for {
		end := eventEnd(data)
		if end < 0 {
			break
		}
		fn(data[:end])
		data = data[end:]
	}
	if len(data) == 0 {
		s.buf = s.buf[:0]
		return
	}
	if len(s.buf) > 0 {
		// data aliases s.buf: move the rest to the front.
		n := copy(s.buf, data)
		s.buf = s.buf[:n]
		return
	}
	s.buf = append(s.buf[:0], data...)
}

// Pending returns the bytes of an incomplete event, if any.
func (s *Splitter) Pending() []byte { return s.buf }

// eventEnd returns the index just past the blank line ending the first
// event in b, or -1. Lines end in "\n", "\r\n" or "\r".
func eventEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\n' && c != '\r' {
			continue
		}
		// End of a line at i; see whether the next line is empty.
		j := i + 1
		if c == '\r' && j < len(b) && b[j] == '\n' {
			j++
		}
		if j >= len(b) {
			return -1
		}
		switch b[j] {
		case '\n':
			return j + 1
		case '\r':
			if j+1 < len(b) && b[j+1] == '\n' {
				return j + 2
			}
			if j+1 >= len(b) {
				return -1 // cannot tell "\r" from "\r\n" yet
			}
			return j + 1
		}
		i = j - 1
	}
	return -1
}

// Data returns the event's data: the values of its "data" fields joined by
// "\n", as a client would see them. It returns nil for an event without
// data (a comment or a retry).
func Data(event []byte) []byte {
	var out []byte
	found := false
	for len(event) > 0 {
		line := event
		next := len(event)
		if i := bytes.IndexAny(event, "\r\n"); i >= 0 {
			line = event[:i]
			next = i + 1
			if event[i] == '\r' && i+1 < len(event) && event[i+1] == '\n' {
				next++
			}
		}
		event = event[next:]
		v, ok := bytes.CutPrefix(line, []byte("data"))
		if !ok || (len(v) > 0 && v[0] != ':') {
			continue
		}
		if len(v) > 0 {
			v = v[1:]
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
		}
		if found {
			out = append(out, '\n')
		} else if !found && len(out) == 0 {
			// Single-line data (the usual case) is returned without copy.
			if !bytes.Contains(event, []byte("data")) {
				return v
			}
		}
		found = true
		out = append(out, v...)
	}
	if !found {
		return nil
	}
	return out
}
