package translator

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apischema/anthropic"
	"github.com/aigw-dev/aigw/internal/sse"
)

// anthropicEventSeeds are the events of the Anthropic stream fixtures.
func anthropicEventSeeds(tb testing.TB) [][]byte {
	paths, err := filepath.Glob(filepath.Join("testdata", "anthropic", "*.sse"))
	require.NoError(tb, err)
	require.NotEmpty(tb, paths)
	var events [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(tb, err)
		sp := sse.Splitter{}
		require.NoError(tb, sp.Feed(append(b, '\n', '\n'), func(ev []byte) {
			if d := sse.Data(ev); len(d) > 0 {
				events = append(events, bytes.Clone(d))
			}
		}))
	}
	return append(events,
		[]byte(`{"type":"message_start","message":{"id":"m","model":"x","content":[{"type":"text","text":"a"}],"stop_sequence":"s","usage":{"input_tokens":3,"cache_read_input_tokens":null}}}`),
		[]byte(`{"TYPE":"content_block_start","index":2,"content_block":{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}}`),
		[]byte(`{"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":null},"delta":{"type":"x"},"usage":null}`),
		[]byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
}

// TestReadAnthropicEvent checks the scanner's reading of every fixture
// event against encoding/json's.
func TestReadAnthropicEvent(t *testing.T) {
	for _, data := range anthropicEventSeeds(t) {
		var want, got anthropic.Event
		if json.Unmarshal(data, &want) != nil {
			require.Error(t, readAnthropicEvent(data, &got), "%s", data) // [DONE]
			continue
		}
		require.NoError(t, readAnthropicEvent(data, &got), "%s", data)
		require.Equal(t, want, got, "%s", data)
	}
	for _, bad := range []string{`{"type":1}`, `{"index":"1"}`, `{"index":1.5}`, `{"usage":{"input_tokens":"3"}}`, `{"delta":[]}`, `{"type":"x"`} {
		var e anthropic.Event
		require.Error(t, readAnthropicEvent([]byte(bad), &e), bad)
		require.Error(t, json.Unmarshal([]byte(bad), &e), bad)
	}
}

// FuzzAnthropicEvent checks that whatever encoding/json reads, the scanner
// reads the same (keys in ASCII: encoding/json also folds some non-ASCII
// letters, which Anthropic's keys never hold).
func FuzzAnthropicEvent(f *testing.F) {
	for _, s := range anthropicEventSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want, got anthropic.Event
		wantErr := json.Unmarshal(data, &want)
		gotErr := readAnthropicEvent(data, &got)
		if wantErr != nil || !asciiOnly(data) {
			return
		}
		require.NoError(t, gotErr, "%s", data)
		require.Equal(t, want, got, "%s", data)
	})
}

func asciiOnly(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
