package dataplane

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/providertest"
)

// fakeOpenAIEndpoints answers OpenAI's Responses, image, speech and
// transcription endpoints in their wire formats, recording the model each
// request named (a multipart upload's form field included).
type fakeOpenAIEndpoints struct {
	mu     sync.Mutex
	models []string
	paths  []string
}

func (f *fakeOpenAIEndpoints) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var model string
	var stream bool
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, `{"error":{"message":"bad multipart"}}`, http.StatusBadRequest)
			return
		}
		model = r.FormValue("model")
		if f, _, err := r.FormFile("file"); err != nil {
			http.Error(w, `{"error":{"message":"no file"}}`, http.StatusBadRequest)
			return
		} else {
			_ = f.Close()
		}
	} else {
		var body struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		raw, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(raw, &body)
		model, stream = body.Model, body.Stream
	}
	f.mu.Lock()
	f.models, f.paths = append(f.models, model), append(f.paths, r.URL.Path)
	f.mu.Unlock()
	usage := `{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":15}`
	switch r.URL.Path {
	case "/v1/responses":
		response := fmt.Sprintf(`{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":%q,"output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"ok","annotations":[]}]}],"usage":%s}`, model, usage)
		if !stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, response)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"ok\",\"sequence_number\":1}\n\n")
		fmt.Fprintf(w, "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":%s}\n\n", response)
	case "/v1/responses/input_tokens":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"object":"response.input_tokens","input_tokens":7}`)
	case "/v1/images/generations":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"created":1,"data":[{"b64_json":"iVBORw0KGgo="}],"usage":{"input_tokens":10,"input_tokens_details":{"text_tokens":10,"image_tokens":0},"output_tokens":5,"total_tokens":15}}`)
	case "/v1/audio/speech":
		w.Header().Set("Content-Type", "audio/mpeg")
		_, _ = w.Write(bytes.Repeat([]byte{0xff, 0xfb}, 2048))
	case "/v1/audio/transcriptions":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"text":"bonjour","usage":{"type":"tokens","input_tokens":10,"output_tokens":5,"total_tokens":15}}`)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeOpenAIEndpoints) last() (path, model string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paths[len(f.paths)-1], f.models[len(f.models)-1]
}

// TestOpenAIEndpointsThroughGateway: openai-go's Responses (streamed and
// not, and input token counting), image, speech and transcription calls
// pass through both transports, routed by model, with the override in the
// body or the re-encoded upload, and their usage counted in costs.
func TestOpenAIEndpointsThroughGateway(t *testing.T) {
	up := &fakeOpenAIEndpoints{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	config := gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  llmRequestCosts:
    - {metadataKey: llm_total_token, type: TotalToken}
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: gpt}]}]
      backendRefs: [{name: openai, modelNameOverride: gpt-5}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: whisper}]}]
      backendRefs: [{name: openai, modelNameOverride: gpt-4o-transcribe}]
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: tts}]}]
      backendRefs: [{name: openai}]
`
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			port := freePort(t)
			path := filepath.Join(t.TempDir(), "config.yaml")
			require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(config, port)+backendDocs("openai", addr)), 0o600))
			url, metadata := tr.start(t, path, port)
			client := openai.NewClient(option.WithBaseURL(url+"/v1"), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
			costs := func() float64 {
				if metadata == nil {
					return 15
				}
				return metadata()["llm_total_token"].GetNumberValue()
			}

			resp, err := client.Responses.New(t.Context(), responses.ResponseNewParams{Model: "gpt", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
			require.NoError(t, err)
			require.Equal(t, "ok", resp.OutputText())
			p, m := up.last()
			require.Equal(t, [2]string{"/v1/responses", "gpt-5"}, [2]string{p, m})
			require.InDelta(t, 15, costs(), 0)

			stream := client.Responses.NewStreaming(t.Context(), responses.ResponseNewParams{Model: "gpt", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
			var text strings.Builder
			for stream.Next() {
				if ev := stream.Current(); ev.Type == "response.output_text.delta" {
					text.WriteString(ev.Delta)
				}
			}
			require.NoError(t, stream.Err())
			require.Equal(t, "ok", text.String())
			require.InDelta(t, 15, costs(), 0)

			count, err := client.Responses.InputTokens.Count(t.Context(), responses.InputTokenCountParams{Model: openai.String("gpt"),
				Input: responses.InputTokenCountParamsInputUnion{OfString: openai.String("hi")}})
			require.NoError(t, err)
			require.EqualValues(t, 7, count.InputTokens)

			img, err := client.Images.Generate(t.Context(), openai.ImageGenerateParams{Model: "gpt", Prompt: "a cat"})
			require.NoError(t, err)
			require.Equal(t, "iVBORw0KGgo=", img.Data[0].B64JSON)
			require.InDelta(t, 15, costs(), 0)

			speech, err := client.Audio.Speech.New(t.Context(), openai.AudioSpeechNewParams{Model: "tts", Input: "hi", Voice: openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("alloy")}})
			require.NoError(t, err)
			audio, err := io.ReadAll(speech.Body)
			require.NoError(t, err)
			_ = speech.Body.Close()
			require.Len(t, audio, 4096)
			require.Equal(t, "audio/mpeg", speech.Header.Get("Content-Type"))

			tx, err := client.Audio.Transcriptions.New(t.Context(), openai.AudioTranscriptionNewParams{Model: "whisper",
				File: openai.File(bytes.NewReader(bytes.Repeat([]byte("RIFF"), 512)), "speech.wav", "audio/wav")})
			require.NoError(t, err)
			require.Equal(t, "bonjour", tx.Text)
			p, m = up.last()
			require.Equal(t, [2]string{"/v1/audio/transcriptions", "gpt-4o-transcribe"}, [2]string{p, m}, "the override is re-encoded in the upload")
			require.InDelta(t, 15, costs(), 0)
		})
	}
}

// TestCohereRerankThroughGateway: a Cohere v2 rerank request is routed by
// its model to a Cohere backend with the backend's key, through both
// transports; the answer passes as it came.
func TestCohereRerankThroughGateway(t *testing.T) {
	var seen struct {
		sync.Mutex
		path, auth, model string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Model string `json:"model"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		seen.Lock()
		seen.path, seen.auth, seen.model = r.URL.Path, r.Header.Get("Authorization"), body.Model
		seen.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"r1","results":[{"index":1,"relevance_score":0.9}],"meta":{"api_version":{"version":"2"},"billed_units":{"search_units":1}}}`)
	}))
	t.Cleanup(srv.Close)
	config := gatewayDoc + `apiVersion: aigateway.envoyproxy.io/v1beta1
kind: AIGatewayRoute
metadata: {name: route}
spec:
  parentRefs: [{name: gw}]
  rules:
    - matches: [{headers: [{type: Exact, name: x-ai-eg-model, value: rerank}]}]
      backendRefs: [{name: cohere, modelNameOverride: rerank-v3.5}]
`
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			port := freePort(t)
			path := filepath.Join(t.TempDir(), "config.yaml")
			cfg := fmt.Sprintf(config, port) + providertest.BackendDocs("cohere", "{name: Cohere}", strings.TrimPrefix(srv.URL, "http://")) +
				keyPolicyDocs("cohere", "APIKey", "apiKey", "co-secret")
			require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
			url, _ := tr.start(t, path, port)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/cohere/v2/rerank",
				strings.NewReader(`{"model":"rerank","query":"capital of France?","documents":["Berlin","Paris"],"top_n":1}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer client-key")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			require.Contains(t, string(body), `"relevance_score":0.9`)
			seen.Lock()
			defer seen.Unlock()
			require.Equal(t, [3]string{"/v2/rerank", "Bearer co-secret", "rerank-v3.5"}, [3]string{seen.path, seen.auth, seen.model})
		})
	}
}
