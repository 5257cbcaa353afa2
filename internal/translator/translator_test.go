package translator

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func openAI(t *testing.T, op llm.Operation, prefix string, opts Options) Translator {
	tr, err := New(op, config.Schema{Name: config.SchemaOpenAI, Prefix: prefix}, opts)
	require.NoError(t, err)
	return tr
}

func TestOpenAIRequest(t *testing.T) {
	body := []byte(`{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":false},"messages":[{"role":"user","content":"hi"}]}`)
	tests := []struct {
		name     string
		op       llm.Operation
		prefix   string
		opts     Options
		req      llm.Request
		wantPath string
		wantBody string
	}{
		{name: "passthrough keeps the bytes", op: llm.OperationChat, prefix: "", req: llm.Request{Body: body, Model: "m", Stream: true},
			wantPath: "/v1/chat/completions", wantBody: string(body)},
		{name: "prefix", op: llm.OperationCompletion, prefix: "/openai/v1/", req: llm.Request{Body: body, Model: "m"},
			wantPath: "/openai/v1/completions", wantBody: string(body)},
		{name: "embeddings", op: llm.OperationEmbeddings, prefix: "v1", req: llm.Request{Body: body, Model: "m"},
			wantPath: "/v1/embeddings", wantBody: string(body)},
		{name: "override", op: llm.OperationChat, opts: Options{ModelOverride: "up"}, req: llm.Request{Body: body, Model: "m", Stream: true},
			wantPath: "/v1/chat/completions", wantBody: `{"model":"up","stream":true,"stream_options":{"continuous_usage_stats":false},"messages":[{"role":"user","content":"hi"}]}`},
		{name: "forced usage keeps other stream options", op: llm.OperationChat, opts: Options{ForceUsage: true}, req: llm.Request{Body: body, Model: "m", Stream: true},
			wantPath: "/v1/chat/completions", wantBody: `{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":false,"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`},
		{name: "forced usage not needed when asked", op: llm.OperationChat, opts: Options{ForceUsage: true}, req: llm.Request{Body: body, Model: "m", Stream: true, IncludeUsage: true},
			wantPath: "/v1/chat/completions", wantBody: string(body)},
		{name: "forced usage not for non-stream", op: llm.OperationChat, opts: Options{ForceUsage: true}, req: llm.Request{Body: body, Model: "m"},
			wantPath: "/v1/chat/completions", wantBody: string(body)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Operation = tc.op
			up, err := openAI(t, tc.op, tc.prefix, tc.opts).Request(&tc.req)
			require.NoError(t, err)
			require.Equal(t, tc.wantPath, up.Path)
			require.Equal(t, tc.wantBody, string(up.Body))
		})
	}
}

// TestOpenAIStream feeds a recorded stream in chunks of every size and
// checks the output against the golden file and the usage read.
func TestOpenAIStream(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "stream_basic.in.sse"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name       string
		force      bool
		askedUsage bool
		golden     string
	}{
		{name: "as is", golden: "stream_basic.out.sse"},
		{name: "client asked for usage", force: true, askedUsage: true, golden: "stream_basic.out.sse"},
		{name: "forced usage hidden", force: true, golden: "stream_basic_hidden_usage.out.sse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{1, 7, 64, len(in)} {
				tr := openAI(t, llm.OperationChat, "", Options{ForceUsage: tc.force})
				_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(`{"model":"m","stream":true}`), Model: "m", Stream: true, IncludeUsage: tc.askedUsage})
				require.NoError(t, err)
				require.NoError(t, tr.ResponseHeaders(200, map[string][]string{"Content-Type": {"text/event-stream"}}))
				var out []byte
				for i := 0; i < len(in); i += size {
					end := min(i+size, len(in))
					chunk, err := tr.ResponseBody(in[i:end], end == len(in))
					require.NoError(t, err)
					out = append(out, chunk...)
				}
				golden(t, tc.golden, out)
				require.Equal(t, llm.Usage{InputTokens: 7, OutputTokens: 2, TotalTokens: 9, CachedInputTokens: 4, ReasoningTokens: 1}, tr.Usage())
				require.Equal(t, "served-model", tr.ResponseModel())
				require.True(t, tr.Complete())
			}
		})
	}
}

func TestOpenAINonStreamUsage(t *testing.T) {
	body := []byte(`{"id":"x","object":"chat.completion","model":"served","choices":[{"index":0,"message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`)
	tr := openAI(t, llm.OperationChat, "", Options{})
	_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(`{"model":"m"}`), Model: "m"})
	require.NoError(t, err)
	require.NoError(t, tr.ResponseHeaders(200, map[string][]string{"Content-Type": {"application/json"}}))
	a, err := tr.ResponseBody(body[:10], false)
	require.NoError(t, err)
	b, err := tr.ResponseBody(body[10:], true)
	require.NoError(t, err)
	require.Equal(t, string(body), string(a)+string(b), "non-streamed bodies pass through unchanged")
	require.Equal(t, llm.Usage{InputTokens: 3, OutputTokens: 5, TotalTokens: 8}, tr.Usage())
	require.Equal(t, "served", tr.ResponseModel())
}

func TestOpenAIErrorResponseNotAccounted(t *testing.T) {
	tr := openAI(t, llm.OperationChat, "", Options{})
	_, err := tr.Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(`{"model":"m","stream":true}`), Model: "m", Stream: true})
	require.NoError(t, err)
	// An error answer to a stream request is JSON, not SSE.
	require.NoError(t, tr.ResponseHeaders(429, map[string][]string{"Content-Type": {"application/json"}}))
	out, err := tr.ResponseBody([]byte(`{"error":{"message":"slow down","usage":{"total_tokens":5}}}`), true)
	require.NoError(t, err)
	require.JSONEq(t, `{"error":{"message":"slow down","usage":{"total_tokens":5}}}`, string(out))
	require.Equal(t, llm.Usage{}, tr.Usage())
}

func TestAzureOpenAIRequest(t *testing.T) {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	tests := []struct {
		name     string
		op       llm.Operation
		version  string
		opts     Options
		wantPath string
		wantBody string
	}{
		{name: "chat", op: llm.OperationChat, version: "2024-10-21",
			wantPath: "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", wantBody: string(body)},
		{name: "embeddings", op: llm.OperationEmbeddings, version: "2024-10-21",
			wantPath: "/openai/deployments/gpt-4o/embeddings?api-version=2024-10-21", wantBody: string(body)},
		{name: "completions", op: llm.OperationCompletion, version: "2024-10-21",
			wantPath: "/openai/deployments/gpt-4o/completions?api-version=2024-10-21", wantBody: string(body)},
		{name: "the override names the deployment", op: llm.OperationChat, version: "2025-01-01-preview", opts: Options{ModelOverride: "prod deployment/1"},
			wantPath: "/openai/deployments/prod%20deployment%2F1/chat/completions?api-version=2025-01-01-preview",
			wantBody: `{"model":"prod deployment/1","messages":[{"role":"user","content":"hi"}]}`},
		{name: "no version", op: llm.OperationChat,
			wantPath: "/openai/deployments/gpt-4o/chat/completions", wantBody: string(body)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := New(tc.op, config.Schema{Name: config.SchemaAzureOpenAI, Version: tc.version}, tc.opts)
			require.NoError(t, err)
			up, err := tr.Request(&llm.Request{Operation: tc.op, Body: body, Model: "gpt-4o"})
			require.NoError(t, err)
			require.Equal(t, tc.wantPath, up.Path)
			require.Equal(t, tc.wantBody, string(up.Body))
		})
	}
}

func TestUnsupportedSchema(t *testing.T) {
	_, err := New(llm.OperationChat, config.Schema{Name: config.SchemaCohere}, Options{})
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = New(llm.OperationCompletion, config.Schema{Name: config.SchemaAWSBedrock}, Options{})
	require.ErrorIs(t, err, ErrUnsupported)
}

func FuzzOpenAIStream(f *testing.F) {
	in, _ := os.ReadFile(filepath.Join("testdata", "stream_basic.in.sse"))
	f.Add(in, uint8(5), true)
	f.Fuzz(func(t *testing.T, data []byte, size uint8, force bool) {
		tr, err := New(llm.OperationChat, config.Schema{Name: config.SchemaOpenAI}, Options{ForceUsage: force})
		require.NoError(t, err)
		_, err = tr.Request(&llm.Request{Operation: llm.OperationChat, Body: []byte(`{"model":"m","stream":true}`), Model: "m", Stream: true})
		require.NoError(t, err)
		require.NoError(t, tr.ResponseHeaders(200, map[string][]string{"Content-Type": {"text/event-stream"}}))
		step := int(size) + 1
		var out []byte
		for i := 0; i < len(data); i += step {
			end := min(i+step, len(data))
			chunk, err := tr.ResponseBody(data[i:end], end == len(data))
			require.NoError(t, err)
			out = append(out, chunk...)
		}
		if !force {
			require.Equal(t, string(data), string(out), "without forced usage the stream passes through byte for byte")
		}
		_ = json.Valid(out)
	})
}
