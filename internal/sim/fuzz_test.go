package sim

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseRequest feeds arbitrary bodies to the request parser and the
// tokenizer: they must never panic, and every rejection must be a 4xx apiError.
//
//	go test -run '^$' -fuzz FuzzParseRequest -fuzztime 30s ./internal/sim/
func FuzzParseRequest(f *testing.F) {
	inputs, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.in.json"))
	for _, in := range inputs {
		raw, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		var gc goldenCase
		if err := json.Unmarshal(raw, &gc); err != nil {
			f.Fatal(err)
		}
		for ep := range 3 {
			f.Add(uint8(ep), []byte(gc.Body))
		}
	}
	for _, body := range []string{
		`{"messages":[{"role":"user","content":null}]}`,
		`{"messages":[{"role":"user","content":[{"type":"image_url"},{"type":"text","text":"x"}]}],"tools":[{}]}`,
		`{"prompt":[[1,2],[3]]}`, `{"prompt":[]}`, `{"prompt":["a","b"]}`, `{"input":[[]]}`,
		`{"max_tokens":-1}`, `{"max_completion_tokens":99999999999999}`, `{"cache_salt":""}`,
		`{"stream":true,"stream_options":{"continuous_usage_stats":true}}`, `[]`, `null`, `"x"`,
	} {
		for ep := range 3 {
			f.Add(uint8(ep), []byte(body))
		}
	}
	f.Fuzz(func(t *testing.T, ep uint8, body []byte) {
		p, err := parseRequest(endpoint(ep%3), body)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status >= 500 {
				t.Fatalf("rejection %v is not a 4xx apiError", err)
			}
			if p != nil {
				t.Fatal("a rejected request must not be returned")
			}
			return
		}
		if p.maxTokens < 0 || p.maxTokens > maxTokensLimit {
			t.Fatalf("max_tokens %d escaped validation", p.maxTokens)
		}
		pt := newPromptTokens(16, "", p.cacheSalt)
		switch p.endpoint {
		case epChat:
			if len(p.messages) == 0 {
				t.Fatal("a chat request without messages was accepted")
			}
			pt.addChat(p.messages, p.tools)
			_ = echoText(p)
		case epCompletion:
			if p.promptIDs == nil {
				pt.addText(p.prompt)
			} else if len(p.promptIDs) == 0 {
				t.Fatal("an empty token prompt was accepted")
			}
		case epEmbedding:
			if len(p.inputs)+len(p.inputIDs) == 0 {
				t.Fatal("an embedding request without input was accepted")
			}
			for _, s := range p.inputs {
				pt.addText(s)
			}
			for _, ids := range p.inputIDs {
				if len(ids) == 0 {
					t.Fatal("an empty token input was accepted")
				}
			}
		}
		if len(pt.hashes) != pt.n/16 {
			t.Fatalf("%d tokens gave %d block hashes", pt.n, len(pt.hashes))
		}
	})
}
