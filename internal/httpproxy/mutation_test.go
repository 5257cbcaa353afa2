package httpproxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
)

func TestOverrideMutationAndAuth(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	b := backendOf("default/a", up)
	b.Schema.Prefix = "openai/v1"
	b.Auth = &config.Auth{Policy: "default/key", Type: config.AuthAPIKey, APIKey: &config.APIKeyAuth{Key: "sk-upstream-secret"}}
	r := ref("default/a", 0)
	r.ModelNameOverride = "upstream-model"
	r.HeaderMutation = &config.HeaderMutation{
		Set:    []config.HeaderValue{{Name: "x-tenant", Value: "t1"}, {Name: "x-ai-eg-model", Value: "spoofed"}},
		Remove: []string{"x-drop-me"},
	}
	r.BodyMutation = &config.BodyMutation{
		Set:    []config.BodyValue{{Path: "service_tier", Value: json.RawMessage(`"flex"`)}, {Path: "temperature", Value: json.RawMessage(`0.5`)}},
		Remove: []string{"user"},
	}
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{b},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", r)}}},
	}
	tg := newTestGateway(t, cfg)
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}],"user":"u1","temperature":1}`
	req, err := http.NewRequest(http.MethodPost, tg.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer client-key")
	req.Header.Set("X-Drop-Me", "1")
	req.Header.Set("X-Ai-Eg-Model", "client-choice")
	req.Header.Set("X-Gateway-Destination-Endpoint", "10.0.0.1:8000")
	req.Header.Set("X-Aigw-Api-Key", "per-request-key")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(out))

	seen := up.requests()
	require.Len(t, seen, 1)
	got := seen[0]
	require.Equal(t, "/openai/v1/chat/completions", got.Path)
	require.Equal(t, "upstream-model", got.Body["model"])
	require.Equal(t, "flex", got.Body["service_tier"])
	require.InDelta(t, 0.5, got.Body["temperature"], 1e-9)
	require.NotContains(t, got.Body, "user")
	require.Equal(t, "Bearer sk-upstream-secret", got.Header.Get("Authorization"))
	require.Equal(t, "t1", got.Header.Get("X-Tenant"))
	require.Empty(t, got.Header.Get("X-Drop-Me"))
	require.Equal(t, "m", got.Header.Get("X-Ai-Eg-Model"), "the model header comes from the body and is never mutated")
	require.Empty(t, got.Header.Get("X-Gateway-Destination-Endpoint"))
	require.Empty(t, got.Header.Get("X-Aigw-Api-Key"))
	logs := tg.log.String()
	require.NotContains(t, logs, "sk-upstream-secret")
	require.NotContains(t, logs, "client-key")
	require.NotContains(t, logs, "per-request-key")
	require.Contains(t, logs, `"request_model":"upstream-model"`)
}

func TestModelsEndpoint(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	r1 := modelRule("m1", ref("default/a", 0))
	r1.ModelsCreatedAt = created
	r2 := modelRule("m2", ref("default/a", 0))
	r2.ModelsOwnedBy = "me"
	r2.ModelsCreatedAt = created
	regex := modelRule("ignored", ref("default/a", 0))
	regex.Matches[0].Headers[0] = config.HeaderMatch{Type: config.HeaderMatchRegularExpression, Name: "x-ai-eg-model", Value: "llama-.*"}
	scoped := modelRule("m3", ref("default/a", 0))
	scoped.ModelsCreatedAt = created
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/a", up)},
		Routes: []config.Route{
			{Name: "default/r", Rules: []config.Rule{r1, r2, regex}},
			{Name: "default/scoped", Hostnames: []string{"*.example.com"}, Rules: []config.Rule{scoped}},
		},
	}
	tg := newTestGateway(t, cfg)
	get := func(host string) []string {
		req, _ := http.NewRequest(http.MethodGet, tg.srv.URL+"/v1/models", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var list struct {
			Object string `json:"object"`
			Data   []struct {
				ID, Object, OwnedBy string
				Created             int64
			} `json:"data"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
		require.Equal(t, "list", list.Object)
		var ids []string
		for _, d := range list.Data {
			ids = append(ids, d.ID)
			require.Equal(t, created.Unix(), d.Created)
		}
		return ids
	}
	require.Equal(t, []string{"m1", "m2"}, get("localhost"))
	require.Equal(t, []string{"m3", "m1", "m2"}, get("api.example.com:8080"))

	// The openai client lists them too.
	c := tg.client()
	page, err := c.Models.List(context.Background())
	require.NoError(t, err)
	require.Len(t, page.Data, 2)
	require.Equal(t, "me", page.Data[1].OwnedBy)

	// And a regex rule still routes.
	_, err = c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "llama-3", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	require.NoError(t, err)
}

func TestApplyKeepsOldConfigOnError(t *testing.T) {
	up := newFakeOpenAI(t, "a")
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/a", up)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/a", 0))}}},
	}
	tg := newTestGateway(t, cfg)
	bad := *cfg
	bad.Routes = []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/missing", 0))}}}
	require.ErrorContains(t, tg.Apply(&bad), `backend "default/missing" is not defined`)
	badRegex := *cfg
	rule := modelRule("m", ref("default/a", 0))
	rule.Matches[0].Headers[0].Type = config.HeaderMatchRegularExpression
	rule.Matches[0].Headers[0].Value = "("
	badRegex.Routes = []config.Route{{Name: "default/r", Rules: []config.Rule{rule}}}
	require.ErrorContains(t, tg.Apply(&badRegex), "invalid regular expression")
	require.Same(t, cfg, tg.Config())
	c := tg.client()
	_, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	require.NoError(t, err)
}

func TestInFlightRequestKeepsItsConfig(t *testing.T) {
	slow := newFakeOpenAI(t, "old")
	slow.setFault("slow-first-byte=300ms")
	fresh := newFakeOpenAI(t, "new")
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/a", slow)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/a", 0))}}},
	}
	tg := newTestGateway(t, cfg)
	done := make(chan string, 1)
	go func() {
		c := tg.client()
		resp, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
		if err != nil {
			done <- err.Error()
			return
		}
		done <- resp.Choices[0].Message.Content
	}()
	require.Eventually(t, func() bool { return len(slow.requests()) == 1 }, 5*time.Second, 5*time.Millisecond)
	next := &config.Config{Version: config.Version,
		Backends: []config.Backend{backendOf("default/a", fresh)},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/a", 0))}}},
	}
	require.NoError(t, tg.Apply(next))
	c := tg.client()
	resp, err := c.Chat.Completions.New(context.Background(), chatParams("m"))
	require.NoError(t, err)
	require.Equal(t, "hello from new", resp.Choices[0].Message.Content)
	require.Equal(t, "hello from old", <-done)
}
