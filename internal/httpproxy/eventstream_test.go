package httpproxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/providertest"
)

// TestEventStreamNotBuffered: a Bedrock event stream reaches the client
// event by event — the upstream sends the rest only once the client has
// read the first token, so a gateway that held the body would deadlock.
func TestEventStreamNotBuffered(t *testing.T) {
	firstRead := make(chan struct{})
	encode := func(events ...providertest.AWSEvent) []byte {
		b, err := providertest.EncodeAWSEvents(events)
		require.NoError(t, err)
		return b
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		_, _ = w.Write(encode(providertest.AWSEvent{Event: "messageStart", Payload: []byte(`{"role":"assistant"}`)},
			providertest.AWSEvent{Event: "contentBlockDelta", Payload: []byte(`{"delta":{"text":"first"},"contentBlockIndex":0}`)}))
		w.(http.Flusher).Flush()
		select {
		case <-firstRead:
		case <-time.After(10 * time.Second):
			return // the test fails on the client side
		}
		_, _ = w.Write(encode(providertest.AWSEvent{Event: "contentBlockDelta", Payload: []byte(`{"delta":{"text":" second"},"contentBlockIndex":0}`)},
			providertest.AWSEvent{Event: "messageStop", Payload: []byte(`{"stopReason":"end_turn"}`)},
			providertest.AWSEvent{Event: "metadata", Payload: []byte(`{"usage":{"inputTokens":1,"outputTokens":2,"totalTokens":3}}`)}))
	}))
	t.Cleanup(up.Close)
	host, port := hostPortOf(up.URL)
	cfg := &config.Config{Version: config.Version,
		Backends: []config.Backend{{Name: "default/bedrock", Schema: config.Schema{Name: config.SchemaAWSBedrock}, Endpoints: []config.Endpoint{{Host: host, Port: port}}}},
		Routes:   []config.Route{{Name: "default/r", Rules: []config.Rule{modelRule("m", ref("default/bedrock", 0))}}}}
	client := newTestGateway(t, cfg).client()
	stream := client.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{Model: "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var text string
	deadline := time.AfterFunc(5*time.Second, func() { close(firstRead) }) // unblock the upstream if the test fails
	defer deadline.Stop()
	signalled := false
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			text += c.Delta.Content
		}
		if text == "first" && !signalled {
			signalled = true
			require.True(t, deadline.Stop(), "the first token arrived only after the upstream's deadline: the stream was buffered")
			close(firstRead)
		}
	}
	require.NoError(t, stream.Err())
	require.True(t, signalled)
	require.Equal(t, "first second", text)
}
