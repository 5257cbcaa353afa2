package translator

import (
	"encoding/json"

	"github.com/aigw-dev/aigw/internal/apischema/openai"
	"github.com/aigw-dev/aigw/internal/llm"
)

// chatChunks writes the chat.completion.chunk events of a translated
// stream: the frequent ones (text deltas, role and finish) by hand from a
// head computed once, the others with encoding/json. With a sink, it
// writes nothing and hands the sink each chunk as values instead.
type chatChunks struct {
	out     []byte
	id      string
	created int64
	model   string
	// head is the start of every chunk of the stream (id, object, created,
	// model), once known.
	head []byte
	// sink, when set, takes the chunks instead of out; sinkStarted
	// records that it has had the stream's ID and model.
	sink        chatSink
	sinkStarted bool
}

// chatSink takes a translated stream's chunks as values rather than
// encoded: the Messages front door, which would otherwise read back every
// chunk the chat translation under it wrote. Each call comes after
// chatStart, once.
type chatSink interface {
	// chatStart starts the stream with its chunks' ID and model.
	chatStart(id, model string)
	// chatText is a text delta of the first choice: its JSON string.
	chatText(text json.RawMessage)
	// chatFinish is the first choice's finish reason.
	chatFinish(reason string)
	// chatChunk is any other chunk with choices.
	chatChunk(chunk *openai.ChatCompletion)
	// chatDone ends the stream ([DONE]).
	chatDone()
}

// streamsTo is implemented by the chat translations that can hand their
// streamed chunks to a sink.
type streamsTo interface {
	// streamTo makes the stream's chunks go to sink: ResponseBody then
	// returns no bytes for them.
	streamTo(sink chatSink)
}

// streamTo implements [streamsTo].
func (c *chatChunks) streamTo(sink chatSink) { c.sink = sink }

// toSink reports whether the chunks go to the sink, starting it first.
func (c *chatChunks) toSink() bool {
	if c.sink == nil {
		return false
	}
	if !c.sinkStarted {
		c.sinkStarted = true
		c.sink.chatStart(c.id, c.model)
	}
	return true
}

// resetOutput empties the output for the translation of a chunk of n
// upstream bytes.
func (c *chatChunks) resetOutput(n int) {
	if c.sink != nil {
		c.out = c.out[:0] // nothing is written to it
		return
	}
	c.out = outputFor(c.out, n)
}

// roleChunk writes the stream's first chunk: the assistant's role and
// empty content.
func (c *chatChunks) roleChunk() {
	if c.toSink() {
		return // it tells nothing more than the start
	}
	c.headChunk(`{"role":"assistant","content":""},"finish_reason":null`)
}

// finishChunk writes the first choice's finish reason, one of OpenAI's
// (written as it is).
func (c *chatChunks) finishChunk(reason string) {
	if c.toSink() {
		c.sink.chatFinish(reason)
		return
	}
	c.headChunk(`{},"finish_reason":"` + reason + `"`)
}

// headChunk writes a chunk with one choice: delta and finish reason as
// JSON after "delta":, the rest from the stream's head.
func (c *chatChunks) headChunk(deltaAndFinish string) {
	c.startHead()
	c.out = append(c.out, c.head...)
	c.out = append(c.out, `,"choices":[{"index":0,"delta":`...)
	c.out = append(c.out, deltaAndFinish...)
	c.out = append(c.out, "}]}\n\n"...)
}

// head computes the start every chunk of the stream shares, once.
func (c *chatChunks) startHead() {
	if c.head == nil {
		head, _ := json.Marshal(struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			Model   string `json:"model"`
		}{c.id, "chat.completion.chunk", c.created, c.model})
		c.head = append([]byte("data: "), head[:len(head)-1]...) // without the closing brace
	}
}

// textChunk writes the chunk of a text delta (its JSON string), the most
// frequent one, without decoding or encoding the text.
func (c *chatChunks) textChunk(text json.RawMessage) {
	if c.toSink() {
		c.sink.chatText(text)
		return
	}
	c.startHead()
	c.out = append(c.out, c.head...)
	c.out = append(c.out, `,"choices":[{"index":0,"delta":{"content":`...)
	c.out = append(c.out, text...)
	c.out = append(c.out, "},\"finish_reason\":null}]}\n\n"...)
}

// chunk writes one chat.completion.chunk with delta and finish reason.
func (c *chatChunks) chunk(delta *openai.ResponseMessage, finish *string) {
	c.write(&openai.ChatCompletion{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
		Choices: []openai.Choice{{Index: 0, Delta: delta, FinishReason: finish}}})
}

// write writes one chunk, encoded.
func (c *chatChunks) write(chunk *openai.ChatCompletion) {
	if c.toSink() {
		c.sink.chatChunk(chunk)
		return
	}
	b, err := json.Marshal(chunk)
	if err != nil {
		return
	}
	c.out = append(c.out, "data: "...)
	c.out = append(c.out, b...)
	c.out = append(c.out, '\n', '\n')
}

// usageChunk writes the usage-only chunk of a stream whose client asked
// for usage.
func (c *chatChunks) usageChunk(u *openai.Usage) {
	if c.toSink() {
		return // the sink reads the translation's usage
	}
	c.write(&openai.ChatCompletion{ID: c.id, Object: "chat.completion.chunk", Created: c.created, Model: c.model,
		Choices: []openai.Choice{}, Usage: u})
}

// done writes the stream's end.
func (c *chatChunks) done() {
	if c.toSink() {
		c.sink.chatDone()
		return
	}
	c.out = append(c.out, "data: [DONE]\n\n"...)
}

// openAIUsage is usage in OpenAI's shape: cached input and reasoning
// detailed when there are any.
func openAIUsage(usage llm.Usage) *openai.Usage {
	u := &openai.Usage{PromptTokens: usage.InputTokens, CompletionTokens: usage.OutputTokens, TotalTokens: usage.TotalTokens}
	if usage.CachedInputTokens > 0 {
		u.PromptTokensDetails = &openai.PromptTokensDetails{CachedTokens: usage.CachedInputTokens}
	}
	if usage.ReasoningTokens > 0 {
		u.CompletionTokensDetails = &openai.CompletionTokensDetails{ReasoningTokens: usage.ReasoningTokens}
	}
	return u
}

// appendRole starts a message of a request written by hand: its role
// (the usual ones without encoding them), then rest (the content's key).
func appendRole(buf []byte, role, rest string) []byte {
	switch role {
	case "user", "assistant", "model":
		buf = append(buf, `{"role":"`...)
		buf = append(buf, role...)
		buf = append(buf, '"')
	default:
		buf = append(buf, `{"role":`...)
		buf = append(buf, jsonString(role)...)
	}
	return append(buf, rest...)
}

// appendTail ends a request written by hand with the members of tail, a
// JSON object of the fields encoded with encoding/json.
func appendTail(buf, tail []byte) []byte {
	if len(tail) > 2 { // more than "{}"
		buf = append(buf, ',')
		return append(buf, tail[1:]...)
	}
	return append(buf, '}')
}

// outputFor empties out for the translation of a chunk of n bytes, sized
// so that the chunk's events are written without growing it again.
func outputFor(out []byte, n int) []byte {
	if want := n + n/2 + 512; cap(out) < want {
		return make([]byte, 0, want)
	}
	return out[:0]
}
