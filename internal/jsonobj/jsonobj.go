// Package jsonobj edits the top-level fields of a JSON object while keeping
// every other byte of each member as it was, and the members in order.
//
// This package must not import any other package of this module.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotObject is returned for a document that is not a JSON object.
var ErrNotObject = errors.New("JSON document is not an object")

// Member is one top-level field; Value is raw JSON.
type Member struct {
	Key   string
	Value json.RawMessage
}

// Object is a parsed JSON object as an ordered list of members.
type Object struct {
	Members []Member
}

// Parse splits a JSON object into its members. Values are not copied: they
// alias data.
func Parse(data []byte) (*Object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, ErrNotObject
	}
	o := &Object{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		key, _ := tok.(string)
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("invalid JSON value of %q: %w", key, err)
		}
		end := dec.InputOffset()
		// Alias the input instead of Decode's copy; skip the ':' and space.
		val := bytes.TrimLeft(data[start:end], " \t\r\n:")
		o.Members = append(o.Members, Member{Key: key, Value: val})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, errors.New("invalid JSON: data after the top-level object")
	}
	return o, nil
}

// Get returns the value of key and whether it is present.
func (o *Object) Get(key string) (json.RawMessage, bool) {
	for _, m := range o.Members {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

// Set replaces the value of key, or appends the member.
func (o *Object) Set(key string, value json.RawMessage) {
	for i := range o.Members {
		if o.Members[i].Key == key {
			o.Members[i].Value = value
			return
		}
	}
	o.Members = append(o.Members, Member{Key: key, Value: value})
}

// Remove deletes key if present.
func (o *Object) Remove(key string) {
	out := o.Members[:0]
	for _, m := range o.Members {
		if m.Key != key {
			out = append(out, m)
		}
	}
	o.Members = out
}

// Bytes encodes the object compactly at the top level; member values are
// written as they are.
func (o *Object) Bytes() []byte {
	n := 2
	for _, m := range o.Members {
		n += len(m.Key) + len(m.Value) + 4
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '{')
	for i, m := range o.Members {
		if i > 0 {
			buf = append(buf, ',')
		}
		k, _ := json.Marshal(m.Key) // a string never fails
		buf = append(buf, k...)
		buf = append(buf, ':')
		buf = append(buf, m.Value...)
	}
	return append(buf, '}')
}
