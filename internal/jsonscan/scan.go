// Package jsonscan validates JSON objects in one pass and hands out their
// top-level members as raw bytes, without decoding them: a request's prompt
// can be hundreds of kilobytes, and routing and scheduling read a handful of
// small fields. Its verdicts match encoding/json's (the processor's fuzz test
// checks that).
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// SyntaxError is malformed JSON at a byte offset.
type SyntaxError struct {
	Msg    string
	Offset int
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.Msg, e.Offset) }

// ErrNotObject is returned for valid JSON that is not an object.
var ErrNotObject = errors.New("JSON value is not an object")

// Object validates b as JSON and, when it is an object, calls member for
// each top-level member in order with its name (escapes resolved) and its
// raw value (no surrounding whitespace). Keys are reported as written, so
// duplicates are reported twice; callers let the last win, as
// encoding/json does. An error from member ends the scan and is returned.
// Invalid JSON is a *SyntaxError; a valid non-object is ErrNotObject.
func Object(b []byte, member func(key string, value []byte) error) error {
	s := scanner{b: b}
	s.ws()
	if s.i >= len(b) {
		return s.eof()
	}
	isObject := b[s.i] == '{'
	if !isObject {
		if err := s.value(0); err != nil {
			return err
		}
	} else if err := s.object(0, func(key []byte, _ int) error {
		start := s.i
		if err := s.value(1); err != nil {
			return err
		}
		return member(unquoteKey(key), b[start:s.i])
	}); err != nil {
		return err
	}
	s.ws()
	if s.i < len(b) {
		return &SyntaxError{fmt.Sprintf("invalid character %q after top-level value", b[s.i]), s.i}
	}
	if !isObject {
		return ErrNotObject
	}
	return nil
}

// Array validates b as one JSON array and calls element for each of its
// elements in order with its raw value (no surrounding whitespace). An
// error from element ends the scan and is returned. Invalid JSON is a
// *SyntaxError; valid JSON that is not an array is ErrNotArray.
func Array(b []byte, element func(value []byte) error) error {
	s := scanner{b: b}
	s.ws()
	if s.i >= len(b) {
		return s.eof()
	}
	if b[s.i] != '[' {
		if err := s.value(0); err != nil {
			return err
		}
		return ErrNotArray
	}
	if err := s.elements(1, func(start int) error { return element(b[start:s.i]) }); err != nil {
		return err
	}
	s.ws()
	if s.i < len(b) {
		return &SyntaxError{fmt.Sprintf("invalid character %q after top-level value", b[s.i]), s.i}
	}
	return nil
}

// ErrNotArray is returned by [Array] for valid JSON that is not an array.
var ErrNotArray = errors.New("JSON value is not an array")

// Unquote decodes a JSON string token (quotes included); most have no
// escapes and cost one copy.
func Unquote(tok []byte) (string, error) {
	if len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
		return "", &SyntaxError{"not a string", 0}
	}
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

// StringLen returns the length of the JSON string token at the start of b
// (quotes included), its escapes validated, or an error when b does not
// start with one.
func StringLen(b []byte) (int, error) {
	if len(b) == 0 || b[0] != '"' {
		return 0, &SyntaxError{"expected a string", 0}
	}
	s := scanner{b: b}
	if err := s.str(); err != nil {
		return 0, err
	}
	return s.i, nil
}

// unquoteKey returns a member name as a decoder sees it: escapes resolved.
func unquoteKey(raw []byte) string {
	if bytes.IndexByte(raw, '\\') >= 0 {
		return string(resolveKey(raw))
	}
	if k, ok := commonKey(raw); ok {
		return k
	}
	return string(raw)
}

// commonKey returns the keys the gateway's scans meet on every request
// without allocating them (the switch compares bytes in place).
func commonKey(raw []byte) (string, bool) {
	switch string(raw) {
	case "model":
		return "model", true
	case "messages":
		return "messages", true
	case "role":
		return "role", true
	case "content":
		return "content", true
	case "stream":
		return "stream", true
	case "stream_options":
		return "stream_options", true
	case "include_usage":
		return "include_usage", true
	case "type":
		return "type", true
	case "text":
		return "text", true
	case "index":
		return "index", true
	case "delta":
		return "delta", true
	case "max_tokens":
		return "max_tokens", true
	case "temperature":
		return "temperature", true
	case "tools":
		return "tools", true
	case "name":
		return "name", true
	case "prompt":
		return "prompt", true
	case "input":
		return "input", true
	}
	k, ok := internedKeys[string(raw)] // the conversion does not allocate
	return k, ok
}

// internedKeys are the other member names of the providers' requests,
// responses and stream events the translations scan.
var internedKeys = func() map[string]string {
	keys := []string{
		// OpenAI
		"tool_calls", "tool_call_id", "function", "arguments", "choices", "finish_reason", "usage", "id", "object", "created",
		"prompt_tokens", "completion_tokens", "total_tokens", "max_completion_tokens", "top_p", "stop", "tool_choice", "response_format",
		"thinking_blocks", "reasoning_content", "image_url", "url", "cache_control",
		// Anthropic
		"content_block", "partial_json", "stop_reason", "input_tokens", "output_tokens", "thinking", "signature", "message",
		"cache_read_input_tokens", "cache_creation_input_tokens", "system",
		// Gemini
		"candidates", "parts", "finishReason", "usageMetadata", "promptTokenCount", "candidatesTokenCount", "totalTokenCount",
		"cachedContentTokenCount", "thoughtsTokenCount", "modelVersion", "responseId", "thought", "functionCall", "promptFeedback",
		// Bedrock
		"contentBlockIndex", "toolUse", "reasoningContent", "bytes", "stopReason",
	}
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = k
	}
	return m
}()

type scanner struct {
	b []byte
	i int
	// escaped is set when a string scanned had an escape; object clears
	// it before each key, so that a key's member callback can tell
	// (keyEscaped) without looking at the key again.
	escaped, keyEscaped bool
}

// space marks JSON's whitespace bytes.
var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func (s *scanner) ws() {
	for s.i < len(s.b) && space[s.b[s.i]] {
		s.i++
	}
}

func (s *scanner) eof() error { return &SyntaxError{"unexpected end of JSON input", s.i} }

func (s *scanner) unexpected(ctx string) error {
	if s.i >= len(s.b) {
		return s.eof()
	}
	return &SyntaxError{fmt.Sprintf("invalid character %q %s", s.b[s.i], ctx), s.i}
}

// object scans an object; member is called with the scanner at the start of
// each value and must consume it.
func (s *scanner) object(depth int, member func(key []byte, start int) error) error {
	if depth >= maxDepth {
		return &SyntaxError{"exceeded max depth", s.i}
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
		s.escaped = false
		if err := s.str(); err != nil {
			return err
		}
		key := s.b[start+1 : s.i-1]
		keyEscaped := s.escaped
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
		s.keyEscaped = keyEscaped
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

func (s *scanner) array(depth int) error { return s.elements(depth, nil) }

// elements scans an array, calling element (when set) after each element
// with the element's start (it ends at s.i).
func (s *scanner) elements(depth int, element func(start int) error) error {
	return s.eachElement(depth, func() error {
		start := s.i
		if err := s.value(depth); err != nil {
			return err
		}
		if element != nil {
			return element(start)
		}
		return nil
	})
}

// eachElement scans an array, calling each with the scanner at the start
// of each element (never at the end of the input); each must consume it.
func (s *scanner) eachElement(depth int, each func() error) error {
	if depth >= maxDepth {
		return &SyntaxError{"exceeded max depth", s.i}
	}
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) {
			return s.eof()
		}
		if err := each(); err != nil {
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
// Plain bytes are skipped eight at a time (SWAR): a word is inspected byte
// by byte only when it holds a quote, a backslash or a control byte.
func (s *scanner) str() error {
	b := s.b
	s.i++ // opening quote
	for {
		for s.i+8 <= len(b) {
			if m := special8(binary.LittleEndian.Uint64(b[s.i:])); m != 0 {
				s.i += bits.TrailingZeros64(m) >> 3
				break
			}
			s.i += 8
		}
		if s.i >= len(b) {
			return s.eof()
		}
		switch c := b[s.i]; {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			if err := s.escape(); err != nil {
				return err
			}
		case c < 0x20:
			return s.unexpected("in string literal")
		default:
			s.i++
		}
	}
}

// SWAR constants: one in every byte, and every byte's high bit.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 returns a mask whose lowest set bit is the high bit of the first
// byte of x (little-endian) that is '"', '\\' or below 0x20; 0 if none.
// (Bits above the lowest may be false positives from borrows.)
func special8(x uint64) uint64 {
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return ((q-ones)&^q | (bs-ones)&^bs | (x-ones*0x20)&^x) & highs
}

// escape validates one escape sequence at s.i (the backslash).
func (s *scanner) escape() error {
	b := s.b
	s.escaped = true
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
	return nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
