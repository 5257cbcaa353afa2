package processor

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/llm"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name      string
		op        llm.Operation
		body      string
		want      *llm.Request
		wantParam string
		wantMsg   string
	}{
		{name: "chat", op: llm.OperationChat, body: `{"model":"m","messages":[]}`, want: &llm.Request{Model: "m"}},
		{name: "stream with usage", op: llm.OperationChat, body: `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, want: &llm.Request{Model: "m", Stream: true, IncludeUsage: true}},
		{name: "embeddings never stream", op: llm.OperationEmbeddings, body: `{"model":"e","stream":true,"input":"x"}`, want: &llm.Request{Model: "e"}},
		{name: "unicode model", op: llm.OperationChat, body: `{"model":"mod\u00e8le"}`, want: &llm.Request{Model: "modèle"}},
		{name: "empty", op: llm.OperationChat, body: ``, wantMsg: "request body is empty; expected a JSON object"},
		{name: "truncated", op: llm.OperationChat, body: `{"model":`, wantMsg: "request body is not valid JSON: unexpected end of JSON input at byte 9"},
		{name: "array", op: llm.OperationChat, body: `[]`, wantMsg: "request body must be a JSON object"},
		{name: "no model", op: llm.OperationChat, body: `{}`, wantParam: "model", wantMsg: `the request has no model; set the "model" field`},
		{name: "empty model", op: llm.OperationChat, body: `{"model":""}`, wantParam: "model", wantMsg: `the request has no model; set the "model" field`},
		{name: "null model", op: llm.OperationChat, body: `{"model":null}`, wantParam: "model", wantMsg: `the request has no model; set the "model" field`},
		{name: "numeric model", op: llm.OperationChat, body: `{"model":1}`, wantParam: "model", wantMsg: `field "model" must be a string`},
		{name: "stream not bool", op: llm.OperationChat, body: `{"model":"m","stream":"yes"}`, wantParam: "stream", wantMsg: `field "stream" must be a bool`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRequest(tc.op, "application/json", []byte(tc.body))
			if tc.want == nil {
				var e *apierror.Error
				require.True(t, errors.As(err, &e), "%v", err)
				require.Equal(t, 400, e.Status)
				require.Equal(t, tc.wantParam, e.Param)
				require.Equal(t, tc.wantMsg, e.Message)
				return
			}
			require.NoError(t, err)
			tc.want.Operation = tc.op
			tc.want.Body = []byte(tc.body)
			tc.want.ContentType = "application/json"
			require.Equal(t, tc.want, got)
		})
	}
}

// TestParseMultipart: an audio upload is routed by its model form field;
// the file is not read; a body that is not multipart, or has no model, is
// a 400.
func TestParseMultipart(t *testing.T) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	fw, err := w.CreateFormFile("file", "a.wav")
	require.NoError(t, err)
	_, _ = fw.Write(bytes.Repeat([]byte{1}, 4096))
	require.NoError(t, w.WriteField("model", "gpt-4o-transcribe"))
	require.NoError(t, w.WriteField("stream", "true"))
	require.NoError(t, w.Close())
	req, err := ParseRequest(llm.OperationTranscription, w.FormDataContentType(), body.Bytes())
	require.NoError(t, err)
	require.Equal(t, "gpt-4o-transcribe", req.Model)
	require.True(t, req.Stream)

	for _, tc := range []struct{ name, contentType, body string }{
		{"not multipart", "application/json", `{"model":"m"}`},
		{"no boundary", "multipart/form-data", "x"},
		{"truncated", w.FormDataContentType(), body.String()[:100]},
		{"no model", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n"},
	} {
		_, err := ParseRequest(llm.OperationTranscription, tc.contentType, []byte(tc.body))
		var e *apierror.Error
		require.True(t, errors.As(err, &e), "%s: %v", tc.name, err)
		require.Equal(t, 400, e.Status, tc.name)
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{`{"model":"m","messages":[{"role":"user","content":"hi"}]}`, `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`, `[]`, `{"model":`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseRequest(llm.OperationChat, "application/json", body)
		if err != nil {
			var e *apierror.Error
			require.True(t, errors.As(err, &e), "every parse error is a client error: %v", err)
			require.Equal(t, 400, e.Status)
			status, out := apierror.Render(err)
			require.Equal(t, 400, status)
			require.True(t, json.Valid(out), "error body must be valid JSON: %s", out)
			return
		}
		require.True(t, json.Valid(body))
		require.NotEmpty(t, req.Model)
	})
}
