package jsonscan

import (
	"encoding/json"
	"fmt"
)

// Value is a JSON value met by [Walk], positioned at its first byte. A
// callback given a Value may descend into it (Object, Array), take it
// whole (Raw) or leave it: a value left is skipped, validated, when the
// callback returns. Either way each byte of the document is scanned once,
// where nesting [Object] or [Members] calls scans a nested value once per
// level. A Value is valid only during the callback it was given to.
type Value struct {
	s     *scanner
	depth int
}

// Walk validates b as one JSON value, calling fn with it; fn's error ends
// the walk and is returned. Invalid JSON is a *SyntaxError.
func Walk(b []byte, fn func(v Value) error) error {
	s := &scanner{b: b}
	s.ws()
	if s.i >= len(b) {
		return s.eof()
	}
	if err := s.visit(0, fn); err != nil {
		return err
	}
	s.ws()
	if s.i < len(b) {
		return &SyntaxError{fmt.Sprintf("invalid character %q after top-level value", b[s.i]), s.i}
	}
	return nil
}

// visit calls fn with the value at s.i, then skips what fn left of it.
func (s *scanner) visit(depth int, fn func(v Value) error) error {
	start := s.i
	if err := fn(Value{s: s, depth: depth}); err != nil {
		return err
	}
	return s.skipUntaken(start, depth)
}

// skipUntaken skips the value at start when a callback left it (the
// scanner has not moved): the callback neither descended nor took it.
func (s *scanner) skipUntaken(start, depth int) error {
	if s.i == start {
		return s.value(depth)
	}
	return nil
}

// Kind is the value's first byte: '{', '[', '"', 't', 'f', 'n', or '-' or
// a digit for a number.
func (v Value) Kind() byte { return v.s.b[v.s.i] }

// Object walks the members of an object: member gets each name (escapes
// resolved; it aliases the document unless it had escapes, and is valid
// during the call) and its value. A value that is not an object is
// ErrNotObject (and is skipped).
func (v Value) Object(member func(key []byte, v Value) error) error {
	s := v.s
	if s.b[s.i] != '{' {
		if err := s.value(v.depth); err != nil {
			return err
		}
		return ErrNotObject
	}
	depth := v.depth + 1
	return s.object(depth, func(key []byte, _ int) error {
		if s.keyEscaped {
			key = resolveKey(key)
		}
		start := s.i
		if err := member(key, Value{s: s, depth: depth}); err != nil {
			return err
		}
		return s.skipUntaken(start, depth)
	})
}

// Array walks the elements of an array. A value that is not an array is
// ErrNotArray (and is skipped).
func (v Value) Array(element func(v Value) error) error {
	s := v.s
	if s.b[s.i] != '[' {
		if err := s.value(v.depth); err != nil {
			return err
		}
		return ErrNotArray
	}
	depth := v.depth + 1
	return s.eachElement(depth, func() error { return s.visit(depth, element) })
}

// Raw returns the value's bytes, validated.
func (v Value) Raw() ([]byte, error) {
	start := v.s.i
	if err := v.s.value(v.depth); err != nil {
		return nil, err
	}
	return v.s.b[start:v.s.i], nil
}

// resolveKey returns a member name with its escapes resolved: raw itself
// when it has none (the usual case), or when they do not decode (a key a
// validating scan has refused).
func resolveKey(raw []byte) []byte {
	for _, c := range raw {
		if c == '\\' {
			var k string
			if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k) == nil {
				return []byte(k)
			}
			break
		}
	}
	return raw
}
