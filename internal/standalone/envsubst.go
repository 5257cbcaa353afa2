package standalone

import (
	"bytes"
	"errors"
	"fmt"
)

// Environment substitution, applied to the raw text of every file before it
// is parsed (as `aigw run` does):
//
//	${NAME}           the variable's value
//	${NAME:=default}  default when NAME is unset or empty (also ${NAME:-default})
//	${NAME=default}   default when NAME is unset (also ${NAME-default})
//	$${               a literal "${"
//
// Defaults may themselves hold references; they are expanded only when used.
//
// An unset ${NAME} without a default becomes the empty string, as in Envoy AI
// Gateway (whose aigw uses github.com/a8m/envsubst without its "no unset"
// restriction), and is reported as a warning naming the file and line: an
// empty required value then fails validation with its own error. Unlike
// Envoy AI Gateway, a bare $NAME is not substituted; it is left as is and
// warned about, since "$" is common in regular expressions.
//
// Values are inserted verbatim, so a value with YAML syntax in it (": ",
// "#", quotes, newlines) can change the document's structure. Prefer the
// Secret annotations substitution.aigw.run/env/<key> and
// substitution.aigw.run/file/<key> for credentials: they never go through the
// YAML parser.

// envIssue is an unset variable or a bare $NAME, reported as a warning.
type envIssue struct {
	line int
	msg  string
}

// envSyntaxError is a malformed reference; it carries the line.
type envSyntaxError struct {
	line int
	msg  string
}

func (e *envSyntaxError) Error() string { return e.msg }

// substituteEnv expands the references in data. It never returns a
// variable's value in an issue or error.
func substituteEnv(data []byte, lookup func(string) (string, bool)) ([]byte, []envIssue, error) {
	s := &substituter{lookup: lookup, line: 1}
	out, err := s.expand(data, true)
	if err != nil {
		return nil, s.issues, err
	}
	return out, s.issues, nil
}

type substituter struct {
	lookup func(string) (string, bool)
	line   int // current line while scanning the top-level text
	issues []envIssue
}

// expand expands refs in text. top is true for the file text itself (which
// tracks line numbers); defaults are expanded with top false and reported on
// the line of the reference that holds them.
func (s *substituter) expand(text []byte, top bool) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(text))
	line := s.line
	for i := 0; i < len(text); {
		c := text[i]
		if c == '\n' {
			if top {
				line++
			}
			out.WriteByte(c)
			i++
			continue
		}
		if c != '$' {
			out.WriteByte(c)
			i++
			continue
		}
		switch {
		case bytes.HasPrefix(text[i:], []byte("$${")):
			out.WriteString("${")
			i += 3
		case bytes.HasPrefix(text[i:], []byte("${")):
			end, val, err := s.reference(text, i, line)
			if err != nil {
				return nil, err
			}
			if top {
				line += bytes.Count(text[i:end], []byte("\n"))
			}
			out.WriteString(val)
			i = end
		default:
			if n := nameLen(text[i+1:]); n > 0 && (i == 0 || text[i-1] != '$') {
				s.issues = append(s.issues, envIssue{line: line, msg: fmt.Sprintf(
					"$%s is not substituted; write ${%s} to use the environment variable", text[i+1:i+1+n], text[i+1:i+1+n])})
			}
			out.WriteByte(c)
			i++
		}
	}
	if top {
		s.line = line
	}
	return out.Bytes(), nil
}

// reference expands the reference starting at text[start] ("${"); it
// returns the index just after its closing brace and its value.
func (s *substituter) reference(text []byte, start, line int) (int, string, error) {
	i := start + 2
	n := nameLen(text[i:])
	if n == 0 {
		return 0, "", &envSyntaxError{line: line, msg: "invalid variable reference: \"${\" must be followed by a name ([A-Za-z_][A-Za-z0-9_]*)"}
	}
	name := string(text[i : i+n])
	i += n
	if i >= len(text) {
		return 0, "", &envSyntaxError{line: line, msg: fmt.Sprintf("unterminated variable reference ${%s", name)}
	}
	var op string
	switch {
	case text[i] == '}':
		return i + 1, s.value(name, line), nil
	case bytes.HasPrefix(text[i:], []byte(":=")), bytes.HasPrefix(text[i:], []byte(":-")):
		op = string(text[i : i+2])
	case text[i] == '=' || text[i] == '-':
		op = string(text[i])
	default:
		return 0, "", &envSyntaxError{line: line, msg: fmt.Sprintf(
			"invalid variable reference ${%s…}: expected \"}\", \":=\", \"=\", \":-\" or \"-\" after the name", name)}
	}
	i += len(op)
	defStart := i
	depth := 0
	for ; i < len(text); i++ {
		switch {
		case bytes.HasPrefix(text[i:], []byte("${")):
			depth++
			i++
		case text[i] == '}':
			if depth == 0 {
				return s.withDefault(name, op, text[defStart:i], line, i+1)
			}
			depth--
		}
	}
	return 0, "", &envSyntaxError{line: line, msg: fmt.Sprintf("unterminated variable reference ${%s%s…", name, op)}
}

func (s *substituter) withDefault(name, op string, def []byte, line, end int) (int, string, error) {
	v, ok := s.lookup(name)
	useDefault := !ok || (op[0] == ':' && v == "")
	if !useDefault {
		return end, v, nil
	}
	sub := &substituter{lookup: s.lookup, line: line}
	out, err := sub.expand(def, false)
	s.issues = append(s.issues, sub.issues...)
	if err != nil {
		var se *envSyntaxError
		if errors.As(err, &se) {
			se.line = line
		}
		return 0, "", err
	}
	return end, string(out), nil
}

func (s *substituter) value(name string, line int) string {
	v, ok := s.lookup(name)
	if !ok {
		s.issues = append(s.issues, envIssue{line: line, msg: fmt.Sprintf(
			"environment variable %s is not set; substituted the empty string (use ${%s:=default} for a default)", name, name)})
	}
	return v
}

// nameLen returns the length of the variable name at the start of b.
func nameLen(b []byte) int {
	n := 0
	for n < len(b) {
		c := b[n]
		letter := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		digit := c >= '0' && c <= '9'
		if !letter && (!digit || n == 0) {
			break
		}
		n++
	}
	return n
}
