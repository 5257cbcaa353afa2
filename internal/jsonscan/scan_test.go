package jsonscan

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestObjectMembers(t *testing.T) {
	type member struct{ key, value string }
	tests := []struct {
		name string
		in   string
		want []member
		err  string
	}{
		{"members with raw values", ` { "model" : "m" , "n":[1, {"a":null}] ,"s":"x\"y", "e\u0041":true} `,
			[]member{{"model", `"m"`}, {"n", `[1, {"a":null}]`}, {"s", `"x\"y"`}, {"eA", "true"}}, ""},
		{"duplicates reported in order", `{"a":1,"a":2}`, []member{{"a", "1"}, {"a", "2"}}, ""},
		{"empty object", `{}`, nil, ""},
		{"not an object", `[1]`, nil, "not an object"},
		{"null", `null`, nil, "not an object"},
		{"control byte in a string", "{\"a\":\"x\ny\"}", nil, `invalid character '\n' in string literal at byte 7`},
		{"bad escape", `{"a":"\q"}`, nil, `invalid character 'q' in string escape code at byte 7`},
		{"unterminated long string", `{"a":"` + strings.Repeat("x", 40), nil, "unexpected end of JSON input at byte 46"},
		{"trailing garbage", `{} x`, nil, `invalid character 'x' after top-level value at byte 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []member
			err := Object([]byte(tt.in), func(k string, v []byte) error {
				got = append(got, member{k, string(v)})
				return nil
			})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("members = %q, want %q", got, tt.want)
			}
		})
	}
	stop := errors.New("stop")
	if err := Object([]byte(`{"a":1,"b":2}`), func(string, []byte) error { return stop }); err != stop {
		t.Errorf("callback error = %v, want it returned", err)
	}
}

// FuzzObject checks Object's verdict against encoding/json: valid objects
// are accepted (with values that are valid JSON themselves), everything else
// rejected.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{"a":"\u00e9\n","b":[1,2.5e3,-0]}`, `{"a":`, `"x"`, "{\"a\":\"\x01\"}", `{"a":"\ud800"}`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var top map[string]json.RawMessage
		wantOK := json.Unmarshal(b, &top) == nil && top != nil
		err := Object(b, func(k string, v []byte) error {
			if !json.Valid(v) {
				t.Fatalf("member %q: value %q is not valid JSON", k, v)
			}
			return nil
		})
		if (err == nil) != wantOK {
			t.Fatalf("Object(%q) = %v, encoding/json ok = %v", b, err, wantOK)
		}
		if err != nil && !errors.Is(err, ErrNotObject) && json.Valid(b) {
			t.Fatalf("Object(%q) = %v for valid JSON", b, err)
		}
	})
}
