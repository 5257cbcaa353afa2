package translator

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/apischema/openai"
	"github.com/aigw-dev/aigw/internal/jsonobj"
)

// TestReadTools checks the scanner's reading of tools against
// encoding/json's, and that a malformed tool is a 400 naming it.
func TestReadTools(t *testing.T) {
	for _, doc := range []string{
		`null`, `[]`,
		`[{"type":"function","function":{"name":"w","description":"d","parameters":{"type":"object","properties":{"c":{"type":"string"}}}}}]`,
		`[{"type":"function","function":{"name":"a"}},{"Type":"function","FUNCTION":{"Name":"b","parameters":null}},null]`,
		`[{"type":"function","function":null,"extra":[1,{"x":"}"}]}]`,
	} {
		var want []openai.Tool
		require.NoError(t, json.Unmarshal([]byte(doc), &want), doc)
		got, err := readTools([]byte(doc))
		require.NoError(t, err, doc)
		require.Equal(t, want, got, doc)
	}
	for bad, field := range map[string]string{
		`{"type":"function"}`:                  "tools",
		`[{"type":1}]`:                         "tools[0]",
		`[{"type":"function"},"x"]`:            "tools[1]",
		`[{"function":{"name":["f"]}}]`:        "tools[0]",
		`[{"type":"function","function":"f"}]`: "tools[0]",
	} {
		_, err := readTools([]byte(bad))
		var e *apierror.Error
		require.ErrorAs(t, err, &e, bad)
		require.Equal(t, 400, e.Status, bad)
		require.Contains(t, e.Message, field, bad)
	}
}

// smallKeys are the members readSmall decodes.
var smallKeys = []string{"model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "stream", "stream_options",
	"tool_choice", "parallel_tool_calls", "user", "response_format", "reasoning_effort", "n", "presence_penalty", "frequency_penalty",
	"seed", "logprobs", "top_logprobs"}

// readSmallBoth decodes body's small members with readSmall and with
// encoding/json.
func readSmallBoth(t *testing.T, body []byte) (got, want openai.ChatRequest, gotErr, wantErr error, ok bool) {
	obj, err := jsonobj.Parse(body)
	if err != nil {
		return got, want, nil, nil, false
	}
	small := jsonobj.Object{}
	for _, m := range obj.Members {
		if slices.Contains(smallKeys, m.Key) {
			small.Members = append(small.Members, m)
		}
	}
	gotErr = readSmall(small.Members, &got)
	wantErr = json.Unmarshal(small.Bytes(), &want)
	return got, want, gotErr, wantErr, true
}

// TestReadSmall checks readSmall against encoding/json.
func TestReadSmall(t *testing.T) {
	for _, doc := range []string{
		`{"model":"m","max_tokens":5,"max_completion_tokens":null,"temperature":0.5,"top_p":1,"stop":["a"],"stream":true,
		  "stream_options":{"include_usage":true},"tool_choice":"auto","parallel_tool_calls":false,"user":"u\u00e9",
		  "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},"reasoning_effort":"low",
		  "n":1,"presence_penalty":-0.5,"frequency_penalty":1e-2,"seed":-3,"logprobs":true,"top_logprobs":2}`,
		`{"stream_options":{"include_usage":true},"stream_options":{"other":1},"response_format":{"TYPE":"json_object"},"stop":null,"stream":null}`,
		`{"response_format":{"type":"text","json_schema":null},"temperature":null,"model":null,"tool_choice":{"type":"function","function":{"name":"f"}}}`,
	} {
		got, want, gotErr, wantErr, ok := readSmallBoth(t, []byte(doc))
		require.True(t, ok, doc)
		require.NoError(t, wantErr, doc)
		require.NoError(t, gotErr, doc)
		require.Equal(t, want, got, doc)
	}
	for bad, field := range map[string]string{
		`{"max_tokens":"5"}`: "max_tokens", `{"max_tokens":1.5}`: "max_tokens", `{"temperature":"hot"}`: "temperature",
		`{"stream":1}`: "stream", `{"stream_options":[]}`: "stream_options", `{"response_format":{"type":1}}`: "response_format",
		`{"seed":1e400}`: "seed", `{"top_p":1e400}`: "top_p", `{"model":5}`: "model",
	} {
		_, _, gotErr, wantErr, _ := readSmallBoth(t, []byte(bad))
		require.Error(t, wantErr, bad)
		var e *apierror.Error
		require.ErrorAs(t, gotErr, &e, bad)
		require.Contains(t, e.Message, field, bad)
	}
}

// FuzzReadSmall: what encoding/json accepts readSmall accepts and reads
// the same; what it refuses readSmall refuses (keys in ASCII, as
// encoding/json also folds some non-ASCII letters).
func FuzzReadSmall(f *testing.F) {
	f.Add([]byte(`{"model":"m","max_tokens":5,"temperature":0.5,"stream_options":{"include_usage":true},"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}}}`))
	f.Add([]byte(`{"n":null,"seed":-0,"logprobs":false,"stop":"x","top_p":1E+2}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, want, gotErr, wantErr, ok := readSmallBoth(t, body)
		if !ok || !asciiOnly(body) {
			return
		}
		require.Equal(t, wantErr == nil, gotErr == nil, "%s: json %v, ours %v", body, wantErr, gotErr)
		if wantErr == nil {
			require.Equal(t, want, got, "%s", body)
		}
	})
}
