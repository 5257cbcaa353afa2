package processor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/jsonobj"
	"github.com/aigw-dev/aigw/internal/jsonscan"
)

// reference is scanHead's specification written with encoding/json: valid
// JSON, an object, exact keys, last occurrence wins, null is absent.
func reference(b []byte) (head, string) {
	if !json.Valid(b) {
		return head{}, "syntax"
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil || top == nil { // top-level null: not an object either
		return head{}, "not object"
	}
	var h head
	isNull := func(r json.RawMessage) bool { return string(bytes.TrimSpace(r)) == "null" }
	if r, ok := top["model"]; ok && !isNull(r) {
		if err := json.Unmarshal(r, &h.model); err != nil {
			return head{}, "type model"
		}
		h.hasModel = true
	}
	if r, ok := top["stream"]; ok && !isNull(r) {
		if err := json.Unmarshal(r, &h.stream); err != nil {
			return head{}, "type stream"
		}
	}
	if r, ok := top["stream_options"]; ok && !isNull(r) {
		var so map[string]json.RawMessage
		if err := json.Unmarshal(r, &so); err != nil {
			return head{}, "type stream_options"
		}
		if u, ok := so["include_usage"]; ok && !isNull(u) {
			if err := json.Unmarshal(u, &h.includeUsage); err != nil {
				return head{}, "type stream_options.include_usage"
			}
		}
	}
	return h, ""
}

func classify(err error) string {
	var syn *jsonscan.SyntaxError
	var typ *fieldTypeError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &syn):
		return "syntax"
	case errors.Is(err, errNotObject):
		return "not object"
	case errors.As(err, &typ):
		return "type " + typ.field
	default:
		return err.Error()
	}
}

var scanSeeds = []string{
	`{"model":"m","messages":[{"role":"user","content":"hi \"there\" \u00e9\n"}],"stream":true,"stream_options":{"include_usage":true}}`,
	`{"model":"a","model":"b"}`, `{"model":"a","model":null}`, `{"stream":true,"stream":null}`,
	`{"model":5}`, `{"model":5,"model":"ok"}`, `{"Model":"x"}`, `{"mod\u0065l":"esc"}`,
	`{"stream_options":{"include_usage":"yes"}}`, `{"stream_options":[]}`, `{"stream_options":{"include_usage":true},"stream_options":{}}`,
	`[1,2]`, `"x"`, `  {"a":[1,-2.5e10,true,false,null,{"b":{}}]}  `, `{"a":01}`, `{"a":1.}`, `{"a":"\x01"}`,
	`{"a":"\ud800"}`, `{}`, `{"a":1}x`, `{"a" 1}`, `{,}`, `[1,]`, `{"a":tru}`, `-`, `1e`, `{"model":"\xff"}`,
}

func TestScanHeadMatchesReference(t *testing.T) {
	for _, s := range scanSeeds {
		got, members, err := scanHead([]byte(s), nil)
		want, wantErr := reference([]byte(s))
		require.Equal(t, wantErr, classify(err), "%s: %v", s, err)
		if wantErr == "" {
			got.typeErrs = [numFields]error{}
			require.Equal(t, want, got, s)
			obj, err := jsonobj.Parse([]byte(s))
			require.NoError(t, err)
			require.Equal(t, obj.Members, members, "the members an edit starts from: %s", s)
		}
	}
}

func TestScanHeadDeepNesting(t *testing.T) {
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	_, _, err := scanHead([]byte(`{"a":`+deep+`}`), nil)
	require.Error(t, err, "nesting is bounded like encoding/json's")
}

func FuzzScanHead(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := scanHead(b, nil)
		want, wantErr := reference(b)
		require.Equal(t, wantErr, classify(err), "%q: %v", b, err)
		if wantErr == "" {
			got.typeErrs = [numFields]error{}
			require.Equal(t, want, got, "%q", b)
		}
	})
}

// BenchmarkParseRequest compares the one-pass scanner with encoding/json on
// a 220 KB prompt.
func BenchmarkParseRequest(b *testing.B) {
	// Escape-dense (a quoted word every 11 bytes), and prose with a newline
	// escape every 80 bytes, 220 KB each.
	body := []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum \\\"dolor\\\" ", 220<<10/22) + `"}]}`)
	prose := []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"` + strings.Repeat(strings.Repeat("lorem ipsum dolor sit amet, ", 3)[:78]+`\\n`, 220<<10/80) + `"}]}`)
	for _, c := range []struct {
		name string
		body []byte
	}{{"scanHead", body}, {"scanHead-prose", prose}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if _, _, err := scanHead(c.body, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		var h struct {
			Model  *string `json:"model"`
			Stream bool    `json:"stream"`
		}
		for b.Loop() {
			if err := json.Unmarshal(body, &h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestFinishScanner(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string
		want   []string
	}{
		{name: "openai stream", chunks: []string{`data: {"choices":[{"finish_reason":null}]}` + "\n\n", `data: {"choices":[{"finish_reason":"stop"}]}` + "\n\n"}, want: []string{"stop"}},
		{name: "split key and value", chunks: []string{`{"choices":[{"finish_re`, `ason":"len`, `gth"}]}`}, want: []string{"length"}},
		{name: "anthropic", chunks: []string{`event: message_delta` + "\n" + `data: {"delta":{"stop_reason":"end_turn"}}`}, want: []string{"end_turn"}},
		{name: "gemini, several candidates", chunks: []string{`{"candidates":[{"finishReason":"STOP"},{"finishReason":"MAX_TOKENS"},{"finishReason":"STOP"}]}`}, want: []string{"STOP", "MAX_TOKENS"}},
		{name: "too long to be a reason", chunks: []string{`{"finish_reason":"` + strings.Repeat("x", 100) + `"}`}, want: nil},
		{name: "in content, escaped, not a key", chunks: []string{`{"content":"say \"finish_reason\":\"x\""}`}, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &finishScanner{}
			for _, c := range tc.chunks {
				f.feed([]byte(c))
			}
			require.Equal(t, tc.want, f.reasons)
		})
	}
	f := &finishScanner{output: true}
	for i := range 100 {
		f.feed(fmt.Appendf(nil, `{"finish_reason":"r%d"}`, i))
		f.feed(bytes.Repeat([]byte("x"), 1024))
	}
	require.Len(t, f.reasons, maxFinishReasons)
	require.Len(t, f.captured, maxTracedContent)
}
