package translator

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// TestAnthropicPassthrough: a Messages request to an Anthropic backend
// goes to its messages path with the model overridden; the response, JSON
// or a stream in any framing, passes byte for byte and its usage is read.
func TestAnthropicPassthrough(t *testing.T) {
	body := []byte(`{"model":"claude","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	tr, err := New(llm.OperationMessages, anthropicSchema, Options{ModelOverride: "claude-sonnet-4-5"})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationMessages, Body: body, Model: "claude", Stream: true})
	require.NoError(t, err)
	require.Equal(t, "/v1/messages", up.Path)
	require.JSONEq(t, `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, string(up.Body))

	stream, err := os.ReadFile(filepath.Join("testdata", "anthropic", "stream_tools.anthropic.sse"))
	require.NoError(t, err)
	for _, size := range []int{1, 13, len(stream)} {
		tr, err := New(llm.OperationMessages, anthropicSchema, Options{})
		require.NoError(t, err)
		_, err = tr.Request(&llm.Request{Operation: llm.OperationMessages, Body: body, Model: "claude", Stream: true})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}))
		var out []byte
		for i := 0; i < len(stream); i += size {
			b, err := tr.ResponseBody(stream[i:min(i+size, len(stream))], i+size >= len(stream))
			require.NoError(t, err)
			out = append(out, b...)
		}
		require.Equal(t, string(stream), string(out), "the stream passes as it came")
		require.Equal(t, llm.Usage{InputTokens: 35, OutputTokens: 42, TotalTokens: 77, CachedInputTokens: 10}, tr.Usage())
		require.Equal(t, "claude-sonnet-4-5", tr.ResponseModel())
		require.True(t, tr.Complete())
	}

	resp, err := os.ReadFile(filepath.Join("testdata", "anthropic", "response_tools.anthropic.json"))
	require.NoError(t, err)
	tr, err = New(llm.OperationMessages, anthropicSchema, Options{})
	require.NoError(t, err)
	_, err = tr.Request(&llm.Request{Operation: llm.OperationMessages, Body: body, Model: "claude"})
	require.NoError(t, err)
	require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}))
	out, err := tr.ResponseBody(resp, true)
	require.NoError(t, err)
	require.Equal(t, string(resp), string(out))
	require.Equal(t, llm.Usage{InputTokens: 40, OutputTokens: 42, TotalTokens: 82, CachedInputTokens: 10, CacheCreationInputTokens: 5}, tr.Usage())

	_, err = New(llm.OperationCountTokens, config.Schema{Name: config.SchemaOpenAI}, Options{})
	require.ErrorIs(t, err, ErrUnsupported, "OpenAI backends count no tokens")
}
