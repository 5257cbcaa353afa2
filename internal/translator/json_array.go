package translator

import (
	"errors"
	"fmt"

	"github.com/aigw-dev/aigw/internal/sse"
)

// arrayStream cuts a streamed JSON array of objects ("[{…},\r\n{…}]", the
// form of Gemini's streamGenerateContent without alt=sse) into its
// elements as their bytes arrive, holding at most the element in
// progress. It finds an element's end by its brackets, strings skipped;
// the element's handler validates it.
type arrayStream struct {
	limit int
	buf   []byte
	// pos is where the scan resumes in buf; start is the element's first
	// byte while in one.
	pos, start int
	state      arrayState
	depth      int
	inString   bool
	escaped    bool
}

type arrayState uint8

const (
	arrayBefore     arrayState = iota // before "["
	arrayOpen                         // after "["
	arrayAfterElem                    // after an element
	arrayAfterComma                   // after a comma
	arrayElement                      // in an element
	arrayDone                         // after "]"
)

var errArray = errors.New("malformed JSON array stream")

func newArrayStream(limit int) arrayStream {
	if limit <= 0 {
		limit = DefaultMaxEventBytes
	}
	return arrayStream{limit: limit}
}

// feed calls fn with each element chunk completes (valid during the call).
func (a *arrayStream) feed(chunk []byte, fn func(elem []byte)) error {
	a.buf = append(a.buf, chunk...)
	b := a.buf
	i := a.pos
	for ; i < len(b); i++ {
		c := b[i]
		switch a.state {
		case arrayBefore, arrayDone:
			switch {
			case isSpace(c):
			case c == '[' && a.state == arrayBefore:
				a.state = arrayOpen
			default:
				return fmt.Errorf("%w: %q outside the array", errArray, c)
			}
		case arrayOpen, arrayAfterElem, arrayAfterComma:
			switch {
			case isSpace(c):
			case c == ',' && a.state == arrayAfterElem:
				a.state = arrayAfterComma
			case c == ']' && a.state != arrayAfterComma:
				a.state = arrayDone
			case c == '{' && a.state != arrayAfterElem:
				a.state, a.start, a.depth = arrayElement, i, 1
			default:
				return fmt.Errorf("%w: %q between elements", errArray, c)
			}
		case arrayElement:
			switch {
			case a.escaped:
				a.escaped = false
			case a.inString && c == '\\':
				a.escaped = true
			case c == '"':
				a.inString = !a.inString
			case a.inString:
			case c == '{' || c == '[':
				a.depth++
			case c == '}' || c == ']':
				if a.depth--; a.depth == 0 {
					fn(b[a.start : i+1])
					a.state = arrayAfterElem
				}
			}
			if a.state == arrayElement && i+1-a.start > a.limit {
				return fmt.Errorf("%w: an array element of more than %d bytes", sse.ErrEventTooLarge, a.limit)
			}
		}
	}
	// Keep the element in progress, moved to the buffer's start.
	keep := len(b)
	if a.state == arrayElement {
		keep = a.start
	}
	n := copy(a.buf, b[keep:])
	a.buf = a.buf[:n]
	a.pos = n
	if a.state == arrayElement {
		a.start = 0
	}
	return nil
}

// done reports whether the array's closing bracket was read.
func (a *arrayStream) done() bool { return a.state == arrayDone }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
