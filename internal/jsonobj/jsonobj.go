// Package jsonobj edits the top-level fields of a JSON object while keeping
// every other byte of each member as it was, and the members in order.
//
// This package must not import any other package of this module but
// internal/jsonscan, its parser.
package jsonobj

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aigw-dev/aigw/internal/jsonscan"
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
// alias data. It accepts exactly what encoding/json accepts, in one pass
// (internal/jsonscan), without decoding the values.
func Parse(data []byte) (*Object, error) {
	o := &Object{}
	err := jsonscan.Object(data, func(key string, value []byte) error {
		o.Members = append(o.Members, Member{Key: key, Value: value})
		return nil
	})
	switch {
	case errors.Is(err, jsonscan.ErrNotObject):
		return nil, ErrNotObject
	case err != nil:
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return o, nil
}

// Clone returns a copy to edit: the member list is copied, the values
// (which edits replace, never modify) are shared.
func (o *Object) Clone() *Object {
	return &Object{Members: append(make([]Member, 0, len(o.Members)+2), o.Members...)}
}

// Get returns the value of key and whether it is present.
func (o *Object) Get(key string) (json.RawMessage, bool) {
	for i := len(o.Members) - 1; i >= 0; i-- { // the last duplicate wins
		if o.Members[i].Key == key {
			return o.Members[i].Value, true
		}
	}
	return nil, false
}

// Set replaces the value of key (dropping its duplicates), or appends the
// member.
func (o *Object) Set(key string, value json.RawMessage) {
	// Duplicates of key go: a JSON reader lets the last one win, so keeping
	// one would undo the edit (a client could smuggle a second "model").
	found := false
	out := o.Members[:0]
	for _, m := range o.Members {
		if m.Key == key {
			if found {
				continue
			}
			found = true
			m.Value = value
		}
		out = append(out, m)
	}
	o.Members = out
	if !found {
		o.Members = append(o.Members, Member{Key: key, Value: value})
	}
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
		buf = appendKey(buf, m.Key)
		buf = append(buf, ':')
		buf = append(buf, m.Value...)
	}
	return append(buf, '}')
}

// appendKey appends key as a JSON string: as it is when nothing in it
// needs escaping (every key in practice), else encoded.
func appendKey(buf []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			k, _ := json.Marshal(key) // a string never fails
			return append(buf, k...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, key...)
	return append(buf, '"')
}
