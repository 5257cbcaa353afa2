package eppserver

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		path, body          string
		model, prompt       string
		salt                string
		wantErr             string
		promptLimitOverride int
	}{
		{path: "/v1/chat/completions", body: `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, model: "m", prompt: `[{"role":"user","content":"hi"}]`},
		{path: "/v1/completions", body: `{"prompt":"say \"hi\"","model":"m","cache_salt":"s1"}`, model: "m", prompt: `say "hi"`, salt: "s1"},
		{path: "/v1/completions", body: `{"model":"m","prompt":["a","b"]}`, model: "m", prompt: `["a","b"]`},
		{path: "/v1/embeddings", body: `{"model":"e","input":"x"}`, model: "e", prompt: `"x"`},
		{path: "/v1/responses", body: `{"model":"r","input":[{"role":"user"}]}`, model: "r", prompt: `[{"role":"user"}]`},
		{path: "/v1/conversations", body: `{"model":"c","items":[]}`, model: "c", prompt: `[]`},
		{path: "", body: `{"model":"m","prompt":"default is completions"}`, model: "m", prompt: "default is completions"},
		{path: "/v1/chat/completions", body: `{"model":"m","messages":[{"content":"` + strings.Repeat("x", 100) + `"}]}`, model: "m", prompt: `[{"content":"xxx`, promptLimitOverride: 16},
		{path: "/v1/chat/completions", body: `{"model":"m","messages":null}`, wantErr: `field "messages" is required`},
		{path: "/v1/chat/completions", body: `{"model":"","messages":[1]}`, wantErr: "model not found"},
		{path: "/v1/chat/completions", body: `{"model":"m","messages":{}}`, wantErr: "non-empty array"},
		{path: "/v1/chat/completions", body: `{"model":"m","messages":[1]`, wantErr: "not valid JSON"},
	}
	for _, tt := range tests {
		limit := 1 << 20
		if tt.promptLimitOverride > 0 {
			limit = tt.promptLimitOverride
		}
		p, err := parseRequest(tt.path, []byte(tt.body), limit)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s %s: error %v, want %q", tt.path, tt.body, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s: %v", tt.path, tt.body, err)
			continue
		}
		if p.model != tt.model || p.prompt != tt.prompt || p.cacheSalt != tt.salt {
			t.Errorf("%s %s: got model %q prompt %q salt %q", tt.path, tt.body, p.model, p.prompt, p.cacheSalt)
		}
	}
}

// FuzzParseRequest checks the parser never panics, accepts only JSON
// objects, and that rewriting the model of an accepted body yields valid
// JSON whose model is the new name and whose other members are unchanged.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m\u00e9","prompt":"x","model":"last"}`,
		`{"messages":[1],"model":"a\"b"}`,
		`{"model":1,"prompt":"x"}`,
	} {
		f.Add("/v1/chat/completions", []byte(s))
		f.Add("/v1/completions", []byte(s))
	}
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		p, err := parseRequest(path, body, 1<<20)
		if err != nil {
			return
		}
		var before map[string]json.RawMessage
		if json.Unmarshal(body, &before) != nil {
			t.Fatalf("accepted %q, which encoding/json rejects", body)
		}
		out := withModel(body, &p, "target-model")
		var after map[string]json.RawMessage
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("rewritten body %q is invalid: %v", out, err)
		}
		var m string
		if err := json.Unmarshal(after["model"], &m); err != nil || (m != "target-model" && strings.Count(string(body), `"model"`) < 2) {
			// With duplicate model keys the last one is rewritten, which is
			// the one decoders keep.
			t.Fatalf("rewritten model = %q (%v) in %q", m, err, out)
		}
	})
}
