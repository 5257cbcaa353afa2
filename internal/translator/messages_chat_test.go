package translator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/providertest"
)

// hideSink hides the inner translation's streamTo: the Messages front door
// then reads back the chunks it writes, as it reads an OpenAI upstream's.
type hideSink struct{ Translator }

// messagesStream is what the Messages front door sends its client for a
// stream from schema fed step bytes at a time, and the stream's error;
// readBack makes it read back the chunks the chat translation under it
// writes instead of taking them as values. The usage of message_start is
// left out: when the bytes are read back, it is what the inner translation
// knew when the front door read its first chunk, which depends on how the
// upstream's bytes were cut. So are random message IDs (an upstream that
// gave none).
func messagesStream(t testing.TB, schema config.Schema, contentType string, data []byte, step int, readBack bool) (string, error) {
	t.Helper()
	tr, err := New(llm.OperationMessages, schema, Options{MaxEventBytes: 1 << 16})
	require.NoError(t, err)
	if readBack {
		tr.(*anthropicToOpenAI).inner = hideSink{tr.(*anthropicToOpenAI).inner}
	}
	_, err = tr.Request(&llm.Request{Operation: llm.OperationMessages, Model: "m", Stream: true,
		Body: []byte(`{"model":"m","stream":true,"max_tokens":9,"messages":[{"role":"user","content":"hi"}]}`)})
	require.NoError(t, err)
	h := http.Header{"Content-Type": {contentType}, "X-Amzn-Requestid": {"req-1"}}
	require.NoError(t, tr.ResponseHeaders(200, h))
	require.Equal(t, !readBack, tr.(*anthropicToOpenAI).sunk)
	var out []byte
	for i := 0; i < len(data) || i == 0; i += step {
		end := min(i+step, len(data))
		b, err := tr.ResponseBody(data[i:end], end == len(data))
		out = append(out, b...)
		if err != nil {
			return normalizeStart(out), err
		}
	}
	return normalizeStart(out), nil
}

// normalizeStart leaves out message_start's usage and random IDs.
func normalizeStart(out []byte) string {
	out = startUsage.ReplaceAll(out, []byte(`$1{}`))
	return string(randomID.ReplaceAll(out, []byte(`chatcmpl-random`)))
}

var (
	// startUsage is message_start's usage.
	startUsage = regexp.MustCompile(`(?m)^(data: \{"message":.*"usage":)\{[^{}]*\}`)
	// randomID is a chat completion's ID of 12 random bytes.
	randomID = regexp.MustCompile(`chatcmpl-[0-9a-f]{24}\b`)
)

// TestMessagesChatSink: the Messages front door over Bedrock's Converse and
// Vertex's Gemini takes the chat translation's chunks as values; what its
// client receives is what reading the chunks back gives, whatever the
// upstream's chunk size.
func TestMessagesChatSink(t *testing.T) {
	streams, err := providertest.NewChatStreams()
	require.NoError(t, err)
	gemini, err := os.ReadFile(filepath.Join("testdata", "gemini", "stream_tools.gemini.sse"))
	require.NoError(t, err)
	for _, c := range []struct {
		name        string
		schema      config.Schema
		contentType string
		data        []byte
	}{
		{"converse tools", bedrockSchema, eventStreamType, bedrockStream(t, "stream_tools.bedrock.jsonl")},
		{"converse text", bedrockSchema, eventStreamType, bytes.Join(streams.Converse, nil)},
		{"converse cut short", bedrockSchema, eventStreamType, bytes.Join(streams.Converse[:4], nil)},
		{"gemini tools", vertexSchema, "text/event-stream", gemini},
		{"gemini text", vertexSchema, "text/event-stream", bytes.Join(streams.Gemini, nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, step := range []int{1, 7, 64, len(c.data)} {
				want, wantErr := messagesStream(t, c.schema, c.contentType, c.data, step, true)
				got, err := messagesStream(t, c.schema, c.contentType, c.data, step, false)
				require.Equal(t, want, got, "chunk size %d", step)
				require.Equal(t, wantErr, err)
				require.Contains(t, got, "event: content_block_delta")
			}
		})
	}
}

// FuzzMessagesChatSink: for any upstream bytes, the Messages front door's
// client receives the same events and error whether it takes the chat
// translation's chunks as values or reads them back.
func FuzzMessagesChatSink(f *testing.F) {
	gemini, err := os.ReadFile(filepath.Join("testdata", "gemini", "stream_tools.gemini.sse"))
	require.NoError(f, err)
	f.Add(bedrockStream(f, "stream_tools.bedrock.jsonl"), uint8(13), false)
	f.Add(gemini, uint8(200), true)
	f.Fuzz(func(t *testing.T, data []byte, size uint8, isGemini bool) {
		schema, contentType := bedrockSchema, eventStreamType
		if isGemini {
			schema, contentType = vertexSchema, "text/event-stream"
		}
		step := int(size) + 1
		want, wantErr := messagesStream(t, schema, contentType, data, step, true)
		got, err := messagesStream(t, schema, contentType, data, step, false)
		require.Equal(t, want, got)
		require.Equal(t, wantErr, err)
	})
}

// messagesUpstream is the upstream request the Messages front door makes of
// body for schema, and its error; asJSON makes it hand the chat
// translation under it the chat request's JSON instead of the request
// read.
func messagesUpstream(t testing.TB, schema config.Schema, body []byte, asJSON bool) (*Upstream, error) {
	t.Helper()
	tr, err := New(llm.OperationMessages, schema, Options{})
	require.NoError(t, err)
	if asJSON {
		tr.(*anthropicToOpenAI).inner = hideSink{tr.(*anthropicToOpenAI).inner}
	}
	return tr.Request(&llm.Request{Operation: llm.OperationMessages, Model: "m", Body: body})
}

// requireSameUpstream checks that two translations of a request agree:
// the same error, or the same path, headers and body (as JSON values: a
// schema encoding/json compacted on the way may keep its spaces the other
// way).
func requireSameUpstream(t *testing.T, body []byte, want, got *Upstream, wantErr, gotErr error) {
	t.Helper()
	if wantErr != nil || gotErr != nil {
		require.Equal(t, fmt.Sprint(wantErr), fmt.Sprint(gotErr), "%s", body)
		return
	}
	require.Equal(t, want.Path, got.Path)
	require.Equal(t, want.SetHeaders, got.SetHeaders)
	var w, g any
	require.NoError(t, json.Unmarshal(want.Body, &w))
	require.NoError(t, json.Unmarshal(got.Body, &g))
	require.Equal(t, w, g, "%s\n%s\n%s", body, want.Body, got.Body)
}

// TestMessagesChatRequest: the Messages front door hands Converse's and
// Gemini's translations the chat request it builds, read: the upstream
// request is the one they make of its JSON.
func TestMessagesChatRequest(t *testing.T) {
	full := `{"model":"claude","max_tokens":100,"system":[{"type":"text","text":"Be brief."}],"stream":true,"messages":[` +
		`{"role":"user","content":[{"type":"text","text":"Weather <now>?","cache_control":{"type":"ephemeral"}},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAA="}}]},` +
		`{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Checking."},{"type":"tool_use","id":"t1","name":"weather","input":{"city":"Paris"}}]},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"},{"type":"text","text":"Thanks"}]}],` +
		`"tools":[{"name":"weather","description":"d","input_schema":{"type": "object"}}],"tool_choice":{"type":"tool","name":"weather"%s},` +
		`"thinking":{"type":"enabled","budget_tokens":2048},"stop_sequences":["X"],"top_k":3,"metadata":{"user_id":"u"},"temperature":0.5,"top_p":0.9}`
	hi := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]`
	for _, c := range []struct {
		body                   string
		converseErr, geminiErr string // "" when the request translates
	}{
		{string(messagesBody4K(true)), "", ""},
		{fmt.Sprintf(full, ""), "", ""},
		{fmt.Sprintf(full, `,"disable_parallel_tool_use":true`), "cannot turn parallel tool calls off", "cannot turn parallel function calls off"},
		{hi + `,"n":2}`, "n: Bedrock's Converse API has no equivalent", ""},
		{hi + `,"stream_options":5}`, "stream_options: must be an object", "stream_options: must be an object"},
		{hi + `,"user":"other","stop":["s"],"response_format":{"type":"json_object"}}`, "", ""},
		{hi + `,"seed":7}`, "seed: Bedrock's Converse API has no equivalent", ""},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document"}]}]}`, "has no OpenAI equivalent", "has no OpenAI equivalent"},
	} {
		for schema, wantErr := range map[config.SchemaName]string{config.SchemaAWSBedrock: c.converseErr, config.SchemaGCPVertexAI: c.geminiErr} {
			want, jsonErr := messagesUpstream(t, config.Schema{Name: schema}, []byte(c.body), true)
			got, err := messagesUpstream(t, config.Schema{Name: schema}, []byte(c.body), false)
			if wantErr == "" {
				require.NoError(t, err, "%s: %s", schema, c.body)
			} else {
				require.ErrorContains(t, err, wantErr, "%s: %s", schema, c.body)
			}
			requireSameUpstream(t, []byte(c.body), want, got, jsonErr, err)
		}
	}
}

// FuzzMessagesChatRequest: for any Messages request, the upstream request
// to Converse or Gemini is the same whether the front door hands over the
// chat request read or its JSON.
func FuzzMessagesChatRequest(f *testing.F) {
	f.Add(messagesBody4K(false), false)
	f.Add([]byte(`{"model":"m","max_tokens":5,"system":[{"type":"text","text":"s"}],"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},`+
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}],"tool_choice":{"type":"any"},"top_k":1}`), true)
	f.Fuzz(func(t *testing.T, body []byte, gemini bool) {
		if !utf8.Valid(body) {
			return // encoding/json would replace what is not UTF-8 in the JSON only
		}
		schema := bedrockSchema
		if gemini {
			schema = vertexSchema
		}
		want, wantErr := messagesUpstream(t, schema, body, true)
		got, gotErr := messagesUpstream(t, schema, body, false)
		requireSameUpstream(t, body, want, got, wantErr, gotErr)
	})
}
