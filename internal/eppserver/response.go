package eppserver

import (
	"bytes"
	"encoding/json"

	"github.com/aigw-dev/aigw/internal/jsonscan"
)

// maxUsageTail bounds what the usage scanner keeps of a non-streamed
// response (usage comes last in OpenAI-shaped bodies) and of a partial SSE
// line.
const maxUsageTail = 16 << 10

// usageScanner captures token usage from a response as it streams: the
// "usage" object of a JSON body's tail, or of the SSE data lines that carry
// one (the last wins).
type usageScanner struct {
	sse                bool
	tail               []byte // JSON: the body's last bytes; SSE: a partial line
	prompt, completion int64
}

type usageObject struct {
	Usage *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
	} `json:"usage"`
}

func (u *usageScanner) feed(chunk []byte, eos bool) {
	if !u.sse {
		u.tail = append(u.tail, chunk...)
		if len(u.tail) > maxUsageTail {
			u.tail = append(u.tail[:0], u.tail[len(u.tail)-maxUsageTail:]...)
		}
		if eos {
			u.fromJSONTail(u.tail)
		}
		return
	}
	data := chunk
	if len(u.tail) > 0 {
		data = append(append([]byte(nil), u.tail...), chunk...)
		u.tail = u.tail[:0]
	}
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			if !eos && len(data) <= maxUsageTail {
				u.tail = append(u.tail, data...)
			}
			return
		}
		line := bytes.TrimSpace(data[:nl])
		data = data[nl+1:]
		if payload, ok := bytes.CutPrefix(line, []byte("data:")); ok && jsonscan.MayHaveMember(payload, "usage") {
			var o usageObject
			if json.Unmarshal(payload, &o) == nil && o.Usage != nil {
				u.prompt, u.completion = o.Usage.PromptTokens, o.Usage.CompletionTokens
			}
		}
	}
}

// fromJSONTail decodes the last "usage" object found in tail.
func (u *usageScanner) fromJSONTail(tail []byte) {
	i := bytes.LastIndex(tail, []byte(`"usage"`))
	if i < 0 {
		return
	}
	rest := bytes.TrimLeft(tail[i+len(`"usage"`):], " \t\r\n")
	rest, ok := bytes.CutPrefix(rest, []byte(":"))
	if !ok {
		return
	}
	var o usageObject
	dec := json.NewDecoder(bytes.NewReader(rest))
	if err := dec.Decode(&o.Usage); err == nil && o.Usage != nil {
		u.prompt, u.completion = o.Usage.PromptTokens, o.Usage.CompletionTokens
	}
}
