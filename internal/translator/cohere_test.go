package translator

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// TestCohereRerank: a rerank request goes to the schema version's path
// with the model overridden; the answer passes as it came, its billed
// tokens read; Cohere serves nothing else, and nothing else serves rerank.
func TestCohereRerank(t *testing.T) {
	cohere := config.Schema{Name: config.SchemaCohere}
	tr, err := New(llm.OperationRerank, cohere, Options{ModelOverride: "rerank-v3.5"})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationRerank, Model: "rerank",
		Body: []byte(`{"model":"rerank","query":"q","documents":["a","b"],"top_n":1}`)})
	require.NoError(t, err)
	require.Equal(t, "/v2/rerank", up.Path)
	require.JSONEq(t, `{"model":"rerank-v3.5","query":"q","documents":["a","b"],"top_n":1}`, string(up.Body))
	require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}))
	body := `{"id":"r1","results":[{"index":1,"relevance_score":0.9}],"meta":{"api_version":{"version":"2"},"billed_units":{"search_units":1},"tokens":{"input_tokens":12,"output_tokens":0}}}`
	out, err := tr.ResponseBody([]byte(body), true)
	require.NoError(t, err)
	require.Equal(t, body, string(out))
	require.Equal(t, llm.Usage{InputTokens: 12, TotalTokens: 12}, tr.Usage())

	_, err = New(llm.OperationChat, cohere, Options{})
	require.True(t, errors.Is(err, ErrUnsupported))
	_, err = New(llm.OperationRerank, config.Schema{Name: config.SchemaOpenAI}, Options{})
	require.True(t, errors.Is(err, ErrUnsupported))
}
