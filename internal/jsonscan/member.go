package jsonscan

import "bytes"

// MayHaveMember reports whether b, JSON text, may hold a member named key
// (a name without escapes) whose value is not null, without scanning it:
// a search for the quoted name followed by a colon. It reports false only
// when no such member can be there, so that a caller decodes only the
// documents that may hold the member; a match nested deeper, or in a
// document that is not valid, reports true.
func MayHaveMember(b []byte, key string) bool {
	var buf [64]byte
	quoted := append(append(append(buf[:0], '"'), key...), '"')
	for rest := b; ; {
		i := bytes.Index(rest, quoted)
		if i < 0 {
			return false
		}
		rest = bytes.TrimLeft(rest[i+len(quoted):], " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			continue // a string value, not a member's name
		}
		rest = bytes.TrimLeft(rest[1:], " \t\r\n")
		if !bytes.HasPrefix(rest, []byte("null")) {
			return true
		}
		rest = rest[len("null"):]
	}
}
