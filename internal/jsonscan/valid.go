package jsonscan

import (
	"bytes"
	"fmt"
)

// Members calls member for each member of the object b, like [Object],
// but without validating b again: b must be a value [Object], [Array],
// Members or [Elements] handed out, which their scan has validated
// already. Descending into a nested value this way costs a search for its
// end instead of a second validation, so a value nested d deep is checked
// once, not d times.
//
// On bytes that are not valid JSON, Members stays in bounds and returns a
// *SyntaxError or reports members a validating scan would have refused;
// it never panics. A valid non-object is ErrNotObject.
func Members(b []byte, member func(key string, value []byte) error) error {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return notA(b, i, ErrNotObject)
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return syntaxAt(b, i, "looking for beginning of object key string")
		}
		end, err := stringEnd(b, i)
		if err != nil {
			return err
		}
		key := b[i+1 : end-1]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return syntaxAt(b, i, "after object key")
		}
		start := skipWS(b, i+1)
		if end, err = valueEnd(b, start); err != nil {
			return err
		}
		if err := member(unquoteKey(key), b[start:end]); err != nil {
			return err
		}
		var done bool
		if i, done, err = afterItem(b, end, '}', "after object key:value pair"); done || err != nil {
			return err
		}
	}
}

// Elements calls element for each element of the array b, like [Array],
// but without validating b again; b must have been handed out by a
// validating scan, as for [Members]. A valid non-array is ErrNotArray.
func Elements(b []byte, element func(value []byte) error) error {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return notA(b, i, ErrNotArray)
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return nil
	}
	for {
		end, err := valueEnd(b, i)
		if err != nil {
			return err
		}
		if err := element(b[i:end]); err != nil {
			return err
		}
		var done bool
		if i, done, err = afterItem(b, end, ']', "after array element"); done || err != nil {
			return err
		}
	}
}

// afterItem reads what follows an object member or array element that
// ends at b[i]: a comma (it returns the next item's start) or the closing
// bracket (done).
func afterItem(b []byte, i int, closing byte, ctx string) (next int, done bool, err error) {
	i = skipWS(b, i)
	switch {
	case i >= len(b):
		return 0, false, syntaxAt(b, i, "")
	case b[i] == ',':
		return skipWS(b, i+1), false, nil
	case b[i] == closing:
		return 0, true, nil
	default:
		return 0, false, syntaxAt(b, i, ctx)
	}
}

// notA reports a value that is not of the kind asked for: the kind's
// error for a value, a syntax error for nothing.
func notA(b []byte, i int, kind error) error {
	if i >= len(b) {
		return syntaxAt(b, i, "")
	}
	return kind
}

func syntaxAt(b []byte, i int, ctx string) error {
	if i >= len(b) {
		return &SyntaxError{"unexpected end of JSON input", i}
	}
	return &SyntaxError{fmt.Sprintf("invalid character %q %s", b[i], ctx), i}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// stringEnd returns the end (past the closing quote) of the string that
// starts at b[i], found with a vectorised search for quotes; a quote
// preceded by an odd run of backslashes is escaped.
func stringEnd(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, syntaxAt(b, len(b), "")
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, nil
		}
		j = q + 1
	}
}

// valueEnd returns the end of the value that starts at b[i]: a string's
// closing quote, an object's or array's matching bracket (strings inside
// skipped whole), a number's or literal's last byte.
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, syntaxAt(b, i, "")
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := stringEnd(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, syntaxAt(b, len(b), "")
	case '}', ']', ',', ':':
		return 0, syntaxAt(b, i, "looking for beginning of value")
	default: // a number or a literal
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\n', '\r', '\t':
				return j, nil
			}
			j++
		}
		return j, nil
	}
}
