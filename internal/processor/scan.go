package processor

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// head is what routing and accounting read from a request body.
type head struct {
	model        string
	hasModel     bool
	stream       bool
	includeUsage bool
	// typeErrs holds, per field, the type error of its last occurrence.
	typeErrs [numFields]error
}

// The fields scanHead reads, in the order their type errors are reported.
const (
	fieldModel = iota
	fieldStream
	fieldStreamOptions
	fieldIncludeUsage
	numFields
)

var fieldNames = [numFields]string{"model", "stream", "stream_options", "stream_options.include_usage"}

// fieldTypeError is a top-level field of the wrong JSON type.
type fieldTypeError struct {
	field, want string
}

func (e *fieldTypeError) Error() string { return fmt.Sprintf("field %q must be a %s", e.field, e.want) }

// syntaxError is malformed JSON at an offset.
type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.off) }

var errNotObject = errors.New("request body must be a JSON object")

// scanHead validates body as JSON, in one pass, and reads the top-level
// model, stream and stream_options.include_usage on the way, without
// decoding anything else: a request's prompt can be hundreds of kilobytes,
// and routing needs only these fields. Its verdicts match encoding/json's
// (FuzzScanHead checks that): invalid JSON is a *syntaxError, a field of the
// wrong type a *fieldTypeError, a non-object errNotObject. Keys match
// exactly, as the model servers behind the gateway read them (encoding/json
// would also take "Model"); null counts as absent; with duplicate keys the
// last wins.
func scanHead(b []byte) (head, error) {
	s := scanner{b: b}
	s.ws()
	if s.i >= len(b) {
		return head{}, &syntaxError{"unexpected end of JSON input", s.i}
	}
	var h head
	isObject := b[s.i] == '{'
	if !isObject {
		if err := s.value(0); err != nil {
			return head{}, err
		}
	} else if err := s.object(0, func(key []byte, _ int) error {
		return s.topField(&h, key)
	}); err != nil {
		return head{}, err
	}
	s.ws()
	if s.i < len(b) {
		return head{}, &syntaxError{fmt.Sprintf("invalid character %q after top-level value", b[s.i]), s.i}
	}
	if !isObject {
		return head{}, errNotObject
	}
	for _, err := range h.typeErrs {
		if err != nil {
			return head{}, err
		}
	}
	return h, nil
}

// unquoteKey returns a member name as a decoder sees it: escapes resolved.
func unquoteKey(raw []byte) string {
	for _, c := range raw {
		if c == '\\' {
			var k string
			if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k) == nil {
				return k
			}
			break
		}
	}
	return string(raw)
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eof() error { return &syntaxError{"unexpected end of JSON input", s.i} }

func (s *scanner) unexpected(ctx string) error {
	if s.i >= len(s.b) {
		return s.eof()
	}
	return &syntaxError{fmt.Sprintf("invalid character %q %s", s.b[s.i], ctx), s.i}
}

// topField reads the value of one top-level member.
func (s *scanner) topField(h *head, key []byte) error {
	switch unquoteKey(key) {
	case "model":
		h.typeErrs[fieldModel] = nil
		h.model, h.hasModel = "", false
		switch {
		case s.peekLiteral("null"):
		case s.i < len(s.b) && s.b[s.i] == '"':
			start := s.i
			if err := s.str(); err != nil {
				return err
			}
			m, err := unquote(s.b[start:s.i])
			if err != nil {
				return &syntaxError{"invalid string", start}
			}
			h.model, h.hasModel = m, true
			return nil
		default:
			h.typeErrs[fieldModel] = typeErr(fieldModel, "string")
		}
		return s.value(1)
	case "stream":
		h.typeErrs[fieldStream] = nil
		h.stream = false
		switch {
		case s.peekLiteral("true"):
			h.stream = true
		case s.peekLiteral("false"), s.peekLiteral("null"):
		default:
			h.typeErrs[fieldStream] = typeErr(fieldStream, "bool")
		}
		return s.value(1)
	case "stream_options":
		h.typeErrs[fieldStreamOptions], h.typeErrs[fieldIncludeUsage] = nil, nil
		h.includeUsage = false
		if s.i < len(s.b) && s.b[s.i] == '{' {
			return s.object(1, func(k []byte, _ int) error {
				if unquoteKey(k) != "include_usage" {
					return s.value(2)
				}
				h.typeErrs[fieldIncludeUsage] = nil
				h.includeUsage = false
				switch {
				case s.peekLiteral("true"):
					h.includeUsage = true
				case s.peekLiteral("false"), s.peekLiteral("null"):
				default:
					h.typeErrs[fieldIncludeUsage] = typeErr(fieldIncludeUsage, "bool")
				}
				return s.value(2)
			})
		}
		if !s.peekLiteral("null") {
			h.typeErrs[fieldStreamOptions] = typeErr(fieldStreamOptions, "object")
		}
		return s.value(1)
	default:
		return s.value(1)
	}
}

func typeErr(field int, want string) error {
	return &fieldTypeError{field: fieldNames[field], want: want}
}

// unquote decodes a JSON string token; most have no escapes.
func unquote(tok []byte) (string, error) {
	inner := tok[1 : len(tok)-1]
	if !utf8.Valid(inner) {
		var v string
		err := json.Unmarshal(tok, &v)
		return v, err
	}
	for _, c := range inner {
		if c == '\\' {
			var v string
			err := json.Unmarshal(tok, &v)
			return v, err
		}
	}
	return string(inner), nil
}

func (s *scanner) peekLiteral(lit string) bool {
	return len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit
}

// object scans an object; member is called with the scanner at the start of
// each value and must consume it.
func (s *scanner) object(depth int, member func(key []byte, start int) error) error {
	if depth >= maxDepth {
		return &syntaxError{"exceeded max depth", s.i}
	}
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		if s.i >= len(s.b) {
			return s.eof()
		}
		if s.b[s.i] != '"' {
			return s.unexpected("looking for beginning of object key string")
		}
		start := s.i
		if err := s.str(); err != nil {
			return err
		}
		key := s.b[start+1 : s.i-1]
		s.ws()
		if s.i >= len(s.b) {
			return s.eof()
		}
		if s.b[s.i] != ':' {
			return s.unexpected("after object key")
		}
		s.i++
		s.ws()
		if s.i >= len(s.b) {
			return s.eof()
		}
		if err := member(key, start); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.eof()
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.ws()
		case '}':
			s.i++
			return nil
		default:
			return s.unexpected("after object key:value pair")
		}
	}
}

// value scans any JSON value.
func (s *scanner) value(depth int) error {
	if s.i >= len(s.b) {
		return s.eof()
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(depth+1, func([]byte, int) error { return s.value(depth + 1) })
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		return s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.unexpected("looking for beginning of value")
	}
}

func (s *scanner) array(depth int) error {
	if depth >= maxDepth {
		return &syntaxError{"exceeded max depth", s.i}
	}
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := s.value(depth); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.eof()
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.unexpected("after array element")
		}
	}
}

func (s *scanner) literal(lit string) error {
	for k := 0; k < len(lit); k++ {
		if s.i >= len(s.b) {
			return s.eof()
		}
		if s.b[s.i] != lit[k] {
			return s.unexpected("in literal " + lit)
		}
		s.i++
	}
	return nil
}

func (s *scanner) number() error {
	b := s.b
	if b[s.i] == '-' {
		s.i++
		if s.i >= len(b) {
			return s.eof()
		}
	}
	switch {
	case b[s.i] == '0':
		s.i++
	case b[s.i] >= '1' && b[s.i] <= '9':
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
	default:
		return s.unexpected("in numeric literal")
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if s.i >= len(b) {
			return s.eof()
		}
		if b[s.i] < '0' || b[s.i] > '9' {
			return s.unexpected("after decimal point in numeric literal")
		}
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if s.i >= len(b) {
			return s.eof()
		}
		if b[s.i] < '0' || b[s.i] > '9' {
			return s.unexpected("in exponent of numeric literal")
		}
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
	}
	return nil
}

// str scans a string, escapes validated; the scanner ends past the quote.
func (s *scanner) str() error {
	b := s.b
	s.i++ // opening quote
	for s.i < len(b) {
		c := b[s.i]
		switch {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			s.i++
			if s.i >= len(b) {
				return s.eof()
			}
			switch b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for k := 0; k < 4; k++ {
					if s.i >= len(b) {
						return s.eof()
					}
					if !isHex(b[s.i]) {
						return s.unexpected("in \\u hexadecimal character escape")
					}
					s.i++
				}
			default:
				return s.unexpected("in string escape code")
			}
		case c < 0x20:
			return s.unexpected("in string literal")
		default:
			s.i++
		}
	}
	return s.eof()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
