package translator

import (
	"errors"
	"strconv"

	"github.com/aigw-dev/aigw/internal/jsonscan"
)

// The readers of JSON values that the scanner-based decoders share (of
// chat requests, Anthropic events): each decodes one member's raw value,
// valid JSON, as encoding/json would decode it into the field.

// Errors of the value readers (readSmall completes them with the member's
// name).
var (
	errNotString  = errors.New("must be a string")
	errNotInteger = errors.New("must be an integer")
	errNotNumber  = errors.New("must be a number")
	errNotBool    = errors.New("must be true or false")
	errNotObject  = errors.New("must be an object")
	errNotArray   = errors.New("must be an array")
)

// intoPointer decodes v into *p as encoding/json decodes into a pointer:
// null clears it, another value fills the one it points to (made when
// nil) with read.
func intoPointer[T any](v []byte, p **T, read func([]byte, *T) error) error {
	if isNull(v) {
		*p = nil
		return nil
	}
	if *p == nil {
		*p = new(T)
	}
	return read(v, *p)
}

// members walks an object's members; any other value is errNotObject.
func members(v []byte, member func(k string, v []byte) error) error {
	if len(v) == 0 || v[0] != '{' {
		return errNotObject
	}
	return jsonscan.Members(v, member)
}

// elements walks an array's elements; any other value is errNotArray.
func elements(v []byte, element func(v []byte) error) error {
	if len(v) == 0 || v[0] != '[' {
		return errNotArray
	}
	return jsonscan.Elements(v, element)
}

// stringValue decodes the JSON string v into s; null leaves s as it is.
func stringValue(v []byte, s *string) error {
	if isNull(v) {
		return nil
	}
	if len(v) == 0 || v[0] != '"' {
		return errNotString
	}
	u, err := jsonscan.Unquote(v)
	if err != nil {
		return errNotString
	}
	*s = u
	return nil
}

func boolValue(v []byte, b *bool) error {
	switch string(v) {
	case "null":
	case "true":
		*b = true
	case "false":
		*b = false
	default:
		return errNotBool
	}
	return nil
}

func optionalBool(v []byte, b **bool) error {
	if isNull(v) {
		*b = nil
		return nil
	}
	var x bool
	if err := boolValue(v, &x); err != nil {
		return err
	}
	*b = &x
	return nil
}

func optionalInt(v []byte, n **int64) error {
	if isNull(v) {
		*n = nil
		return nil
	}
	i, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return errNotInteger
	}
	*n = &i
	return nil
}

func optionalFloat(v []byte, f **float64) error {
	if isNull(v) {
		*f = nil
		return nil
	}
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return errNotNumber // a validated value: no Inf, NaN or hex here
	}
	x, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return errNotNumber
	}
	*f = &x
	return nil
}

func isNull(v []byte) bool { return string(v) == "null" }

// optionalString decodes the JSON string v into *s; null makes it nil.
func optionalString(v []byte, s **string) error {
	if isNull(v) {
		*s = nil
		return nil
	}
	u, err := jsonscan.Unquote(v)
	if err != nil {
		return err
	}
	*s = &u
	return nil
}

// int64Value decodes the JSON integer v into n; null leaves n as it is.
func int64Value(v []byte, n *int64) error {
	if isNull(v) {
		return nil
	}
	i, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return err
	}
	*n = i
	return nil
}

// intValue is int64Value for an int.
func intValue(v []byte, n *int) error {
	if isNull(v) {
		return nil
	}
	i, err := strconv.ParseInt(string(v), 10, 0)
	if err != nil {
		return err
	}
	*n = int(i)
	return nil
}
