package translator

import (
	"encoding/json"
	"strconv"

	"github.com/aigw-dev/aigw/internal/apischema/gemini"
	"github.com/aigw-dev/aigw/internal/jsonscan"
)

// geminiEvent is one event of a streamGenerateContent stream, read with
// the one-pass scanner: text stays its JSON string, copied, not decoded.
// Its slices are reused from event to event.
type geminiEvent struct {
	candidates   []geminiCandidate
	usage        *gemini.UsageMetadata
	usageValue   gemini.UsageMetadata
	modelVersion string
	responseID   string
	blockReason  string
	// failure is the event's error object, when it is one.
	failure json.RawMessage
}

type geminiCandidate struct {
	index        int
	finishReason string
	parts        []geminiEventPart
}

// geminiEventPart is a part of a streamed candidate: text (thought or not) or
// a function call.
type geminiEventPart struct {
	text      json.RawMessage
	thought   bool
	call      *gemini.FunctionCall
	signature string
}

// read parses data into e.
func (e *geminiEvent) read(data []byte) error {
	e.candidates, e.usage, e.failure = e.candidates[:0], nil, nil
	e.modelVersion, e.responseID, e.blockReason = "", "", ""
	return jsonscan.Object(data, func(k string, v []byte) error {
		var err error
		switch k {
		case "candidates":
			err = jsonscan.Elements(v, e.candidate)
		case "usageMetadata":
			e.usageValue = gemini.UsageMetadata{}
			err = jsonscan.Members(v, func(k string, v []byte) error {
				n, _ := strconv.ParseInt(string(v), 10, 64)
				switch k {
				case "promptTokenCount":
					e.usageValue.PromptTokenCount = n
				case "candidatesTokenCount":
					e.usageValue.CandidatesTokenCount = n
				case "totalTokenCount":
					e.usageValue.TotalTokenCount = n
				case "cachedContentTokenCount":
					e.usageValue.CachedContentTokenCount = n
				case "thoughtsTokenCount":
					e.usageValue.ThoughtsTokenCount = n
				}
				return nil
			})
			e.usage = &e.usageValue
		case "modelVersion":
			e.modelVersion, err = jsonscan.Unquote(v)
		case "responseId":
			e.responseID, err = jsonscan.Unquote(v)
		case "promptFeedback":
			err = jsonscan.Members(v, func(k string, v []byte) error {
				if k == "blockReason" {
					e.blockReason, _ = jsonscan.Unquote(v)
				}
				return nil
			})
		case "error":
			e.failure = v
		}
		return err
	})
}

// candidate reads one candidate, a value the event's scan has validated.
func (e *geminiEvent) candidate(v []byte) error {
	e.candidates = append(e.candidates, geminiCandidate{parts: e.spareParts()})
	c := &e.candidates[len(e.candidates)-1]
	return jsonscan.Members(v, func(k string, v []byte) error {
		var err error
		switch k {
		case "index":
			c.index, err = strconv.Atoi(string(v))
		case "finishReason":
			c.finishReason, err = jsonscan.Unquote(v)
		case "content":
			err = jsonscan.Members(v, func(k string, v []byte) error {
				if k != "parts" {
					return nil
				}
				return jsonscan.Elements(v, func(v []byte) error {
					var p geminiEventPart
					err := jsonscan.Members(v, func(k string, v []byte) error {
						switch k {
						case "text":
							if len(v) > 0 && v[0] == '"' {
								p.text = v
							}
						case "thought":
							p.thought = string(v) == "true"
						case "functionCall":
							p.call = &gemini.FunctionCall{}
							return json.Unmarshal(v, p.call)
						case "thoughtSignature":
							p.signature, _ = jsonscan.Unquote(v)
						}
						return nil
					})
					c.parts = append(c.parts, p)
					return err
				})
			})
		}
		return err
	})
}

// spareParts returns a parts slice to reuse: the one the next candidate
// had in an earlier event, emptied.
func (e *geminiEvent) spareParts() []geminiEventPart {
	n := len(e.candidates)
	if n < cap(e.candidates) {
		return e.candidates[:n+1][n].parts[:0]
	}
	return nil
}
