package translator

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// TestOpenAIEndpoints: the Responses API, images, speech and
// transcription go to the endpoint's path (Azure's deployment path, or its
// Responses path), with the model overridden; usage is read from JSON and
// from streams in either of OpenAI's usage shapes.
func TestOpenAIEndpoints(t *testing.T) {
	openAI := config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}
	azure := config.Schema{Name: config.SchemaAzureOpenAI, Version: "2025-04-01-preview"}
	for _, tc := range []struct {
		op       llm.Operation
		schema   config.Schema
		wantPath string
	}{
		{llm.OperationResponses, openAI, "/v1/responses"},
		{llm.OperationResponsesInputTokens, openAI, "/v1/responses/input_tokens"},
		{llm.OperationImageGeneration, openAI, "/v1/images/generations"},
		{llm.OperationSpeech, openAI, "/v1/audio/speech"},
		{llm.OperationResponses, azure, "/openai/responses?api-version=2025-04-01-preview"},
		{llm.OperationImageGeneration, azure, "/openai/deployments/gpt-image-1/images/generations?api-version=2025-04-01-preview"},
	} {
		tr, err := New(tc.op, tc.schema, Options{ModelOverride: "gpt-image-1"})
		require.NoError(t, err)
		up, err := tr.Request(&llm.Request{Operation: tc.op, Model: "m", Body: []byte(`{"model":"m","input":"hi"}`)})
		require.NoError(t, err)
		require.Equal(t, tc.wantPath, up.Path)
		require.JSONEq(t, `{"model":"gpt-image-1","input":"hi"}`, string(up.Body))
	}

	_, err := New(llm.OperationResponses, config.Schema{Name: config.SchemaAnthropic}, Options{})
	require.True(t, errors.Is(err, ErrUnsupported))

	// A Responses stream: usage from response.completed, which ends it.
	tr, err := New(llm.OperationResponses, openAI, Options{})
	require.NoError(t, err)
	_, err = tr.Request(&llm.Request{Operation: llm.OperationResponses, Model: "m", Stream: true, Body: []byte(`{"model":"m","stream":true}`)})
	require.NoError(t, err)
	require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}))
	stream := "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5\"}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"ok\"}\n\n" +
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5\",\"usage\":{\"input_tokens\":10,\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":5,\"output_tokens_details\":{\"reasoning_tokens\":2},\"total_tokens\":15}}}\n\n"
	out, err := tr.ResponseBody([]byte(stream), true)
	require.NoError(t, err)
	require.Equal(t, stream, string(out), "the events pass as they came")
	require.Equal(t, llm.Usage{InputTokens: 10, OutputTokens: 5, TotalTokens: 15, CachedInputTokens: 4, ReasoningTokens: 2}, tr.Usage())
	require.Equal(t, "gpt-5", tr.ResponseModel())
	require.True(t, tr.Complete())

	// Speech: audio passes unbuffered and unread.
	sp, err := New(llm.OperationSpeech, openAI, Options{})
	require.NoError(t, err)
	_, err = sp.Request(&llm.Request{Operation: llm.OperationSpeech, Model: "tts-1", Body: []byte(`{"model":"tts-1","input":"hi","voice":"alloy"}`)})
	require.NoError(t, err)
	require.NoError(t, sp.ResponseHeaders(200, http.Header{"Content-Type": {"audio/mpeg"}}))
	audio := bytes.Repeat([]byte{0xff}, 1024)
	out, err = sp.ResponseBody(audio, true)
	require.NoError(t, err)
	require.Equal(t, audio, out)
	require.Zero(t, sp.(*openAIEndpoint).body.body, "audio is not buffered")
}

// TestTranscriptionModelOverride: the model form field of a multipart
// upload is re-encoded; the file and the other fields are kept, byte for
// byte.
func TestTranscriptionModelOverride(t *testing.T) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, err := w.CreateFormFile("file", "speech.wav")
	require.NoError(t, err)
	file := append([]byte("RIFF"), bytes.Repeat([]byte{0, 1, 2, '\r', '\n', '-'}, 1000)...)
	_, _ = fw.Write(file)
	require.NoError(t, w.WriteField("model", "whisper"))
	require.NoError(t, w.WriteField("language", "fr"))
	require.NoError(t, w.Close())

	tr, err := New(llm.OperationTranscription, config.Schema{Name: config.SchemaOpenAI, Prefix: "v1"}, Options{ModelOverride: "gpt-4o-transcribe"})
	require.NoError(t, err)
	up, err := tr.Request(&llm.Request{Operation: llm.OperationTranscription, Model: "whisper", ContentType: w.FormDataContentType(), Body: body.Bytes()})
	require.NoError(t, err)
	require.Equal(t, "/v1/audio/transcriptions", up.Path)

	_, params, err := mime.ParseMediaType(w.FormDataContentType())
	require.NoError(t, err)
	r := multipart.NewReader(bytes.NewReader(up.Body), params["boundary"])
	got := map[string][]byte{}
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		got[p.FormName()] = b
	}
	require.Equal(t, map[string][]byte{"file": file, "model": []byte("gpt-4o-transcribe"), "language": []byte("fr")}, got)

	require.NoError(t, tr.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}))
	_, err = tr.ResponseBody([]byte(`{"text":"bonjour","usage":{"type":"tokens","input_tokens":14,"output_tokens":3,"total_tokens":17}}`), true)
	require.NoError(t, err)
	require.Equal(t, llm.Usage{InputTokens: 14, OutputTokens: 3, TotalTokens: 17}, tr.Usage())
}
