package eppserver

import "testing"

// TestUsageScannerSSE: the usage of a stream is its last non-null one,
// whatever the chunks' cuts; the null usages OpenAI puts in every chunk
// are not decoded and change nothing.
func TestUsageScannerSSE(t *testing.T) {
	stream := `data: {"model":"m","choices":[{"delta":{"content":"usage"}}],"usage":null}` + "\n\n" +
		`data: {"model":"m","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}` + "\n\n" +
		`data: {"model":"m","choices":[],"usage" : null}` + "\n\n" + "data: [DONE]\n\n"
	for _, size := range []int{1, 5, 64, len(stream)} {
		u := usageScanner{sse: true}
		for i := 0; i < len(stream); i += size {
			end := min(i+size, len(stream))
			u.feed([]byte(stream[i:end]), end == len(stream))
		}
		if u.prompt != 7 || u.completion != 3 {
			t.Errorf("chunks of %d: usage %d/%d, want 7/3", size, u.prompt, u.completion)
		}
	}
}
