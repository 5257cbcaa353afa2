// Package sse frames a Server-Sent Events byte stream into events
// incrementally, without waiting for more than the bytes of the event in
// progress (WHATWG HTML, "Server-sent events", §9.2.6).
//
// This package must not import any other package of this module.
package sse

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrEventTooLarge is returned by [Splitter.Feed] when the event in
// progress grows past the splitter's limit.
var ErrEventTooLarge = errors.New("sse: event too large")

// lookBehind is how many bytes before the end of the data an unfinished
// scan must look at again: a blank line can only be recognised once the
// byte after it is known ("\r" may yet become "\r\n").
const lookBehind = 3

// Splitter cuts a byte stream into whole events. The zero value is ready to
// use and has no limit; a Splitter is not safe for concurrent use.
//
// Feeding n bytes costs O(n) whatever the size of the events: the scan for
// an event's end resumes where the previous Feed stopped instead of starting
// again at the beginning of the event.
type Splitter struct {
	// Limit, when positive, bounds the bytes of one event; an event that
	// grows past it makes Feed fail with ErrEventTooLarge.
	Limit int

	buf []byte
	// scanned is how many bytes of buf are known not to hold an event end
	// (bar the last lookBehind, which are scanned again).
	scanned int
}

// Feed appends p to the bytes in progress and calls fn with each complete
// event, terminator included. The slice passed to fn is valid only during
// the call. After an error the Splitter must not be fed again.
func (s *Splitter) Feed(p []byte, fn func(event []byte)) error {
	data := p
	from := 0
	if len(s.buf) > 0 {
		from = max(0, s.scanned-lookBehind)
		s.buf = append(s.buf, p...)
		data = s.buf
	}
	// Streams whose lines end in "\n" alone (nearly all) have their event
	// ends found by a vectorised search for the blank line.
	lfOnly := bytes.IndexByte(data[from:], '\r') < 0
	for {
		var end int
		if lfOnly {
			end = lfEventEnd(data, from)
		} else {
			end = eventEnd(data, from)
		}
		if end < 0 {
			break
		}
		fn(data[:end])
		data = data[end:]
		from = 0
	}
	if s.Limit > 0 && len(data) > s.Limit {
		s.buf, s.scanned = nil, 0
		return fmt.Errorf("%w: more than %d bytes without an event end", ErrEventTooLarge, s.Limit)
	}
	s.scanned = len(data)
	if len(data) == 0 {
		s.buf = s.buf[:0]
		return nil
	}
	if len(s.buf) > 0 {
		if &data[0] == &s.buf[0] {
			return nil // the event in progress already starts buf
		}
		// data aliases s.buf: move the rest to the front.
		n := copy(s.buf, data)
		s.buf = s.buf[:n]
		return nil
	}
	s.buf = append(s.buf[:0], data...)
	return nil
}

// Pending returns the bytes of an incomplete event, if any.
func (s *Splitter) Pending() []byte { return s.buf }

// lfEventEnd is eventEnd for bytes that hold no "\r".
func lfEventEnd(b []byte, from int) int {
	if i := bytes.Index(b[from:], []byte("\n\n")); i >= 0 {
		return from + i + 2
	}
	return -1
}

// eventEnd returns the index just past the blank line ending the first
// event in b, or -1, looking for line ends from index from on (the bytes
// before it are known to hold none that ends an event). Lines end in "\n",
// "\r\n" or "\r".
func eventEnd(b []byte, from int) int {
	// The next "\n" and "\r" at or after i, found by vectorised searches
	// (-1: none left), each searched again only once passed.
	nextLF, nextCR := -2, -2
	for i := from; i < len(b); {
		if nextLF != -1 && nextLF < i {
			nextLF = indexFrom(b, i, '\n')
		}
		if nextCR != -1 && nextCR < i {
			nextCR = indexFrom(b, i, '\r')
		}
		i = nextLF
		if nextCR >= 0 && (i < 0 || nextCR < i) {
			i = nextCR
		}
		if i < 0 {
			return -1
		}
		// End of a line at i; see whether the next line is empty.
		j := i + 1
		if b[i] == '\r' && j < len(b) && b[j] == '\n' {
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
		i = j
	}
	return -1
}

// indexFrom returns the index of the first c in b at or after from, or -1.
func indexFrom(b []byte, from int, c byte) int {
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
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
		if i := lineEnd(event); i >= 0 {
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

// lineEnd returns the index of the first "\r" or "\n" in b, or -1: two
// vectorised searches, the second bounded by the first.
func lineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	head := b
	if i >= 0 {
		head = b[:i]
	}
	if j := bytes.IndexByte(head, '\r'); j >= 0 {
		return j
	}
	return i
}
