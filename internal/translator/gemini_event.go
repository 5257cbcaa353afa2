package translator

import (
	"encoding/json"
	"strconv"
	"strings"

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
	// lastModelVersion and lastResponseID are the latest events' values,
	// reused while they repeat.
	lastModelVersion, lastResponseID string
	blockReason                      string
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

// read parses data into e in one pass of the scanner.
func (e *geminiEvent) read(data []byte) error {
	e.candidates, e.usage, e.failure = e.candidates[:0], nil, nil
	if e.modelVersion != "" {
		e.lastModelVersion = e.modelVersion
	}
	if e.responseID != "" {
		e.lastResponseID = e.responseID
	}
	e.modelVersion, e.responseID, e.blockReason = "", "", ""
	return jsonscan.Walk(data, func(v jsonscan.Value) error {
		return v.Object(func(k []byte, v jsonscan.Value) error {
			switch string(k) {
			case "candidates":
				return v.Array(e.candidate)
			case "usageMetadata":
				e.usageValue = gemini.UsageMetadata{}
				e.usage = &e.usageValue
				return v.Object(func(k []byte, v jsonscan.Value) error {
					var n *int64
					switch string(k) {
					case "promptTokenCount":
						n = &e.usageValue.PromptTokenCount
					case "candidatesTokenCount":
						n = &e.usageValue.CandidatesTokenCount
					case "totalTokenCount":
						n = &e.usageValue.TotalTokenCount
					case "cachedContentTokenCount":
						n = &e.usageValue.CachedContentTokenCount
					case "thoughtsTokenCount":
						n = &e.usageValue.ThoughtsTokenCount
					default:
						return nil
					}
					raw, err := v.Raw()
					if err == nil {
						*n, _ = strconv.ParseInt(string(raw), 10, 64)
					}
					return err
				})
			case "modelVersion":
				return rawString(v, &e.modelVersion, e.lastModelVersion)
			case "responseId":
				return rawString(v, &e.responseID, e.lastResponseID)
			case "promptFeedback":
				return v.Object(func(k []byte, v jsonscan.Value) error {
					if string(k) == "blockReason" {
						return rawString(v, &e.blockReason, "")
					}
					return nil
				})
			case "error":
				raw, err := v.Raw()
				e.failure = raw
				return err
			}
			return nil
		})
	})
}

// candidate reads one candidate.
func (e *geminiEvent) candidate(v jsonscan.Value) error {
	e.candidates = append(e.candidates, geminiCandidate{parts: e.spareParts()})
	c := &e.candidates[len(e.candidates)-1]
	return v.Object(func(k []byte, v jsonscan.Value) error {
		switch string(k) {
		case "index":
			raw, err := v.Raw()
			if err != nil {
				return err
			}
			c.index, err = strconv.Atoi(string(raw))
			return err
		case "finishReason":
			return rawString(v, &c.finishReason, "")
		case "content":
			return v.Object(func(k []byte, v jsonscan.Value) error {
				if string(k) != "parts" {
					return nil
				}
				return v.Array(func(v jsonscan.Value) error {
					var p geminiEventPart
					err := v.Object(func(k []byte, v jsonscan.Value) error {
						switch string(k) {
						case "text":
							raw, err := v.Raw()
							if len(raw) > 0 && raw[0] == '"' {
								p.text = raw
							}
							return err
						case "thought":
							raw, err := v.Raw()
							p.thought = string(raw) == "true"
							return err
						case "functionCall":
							raw, err := v.Raw()
							if err != nil {
								return err
							}
							p.call = &gemini.FunctionCall{}
							return json.Unmarshal(raw, p.call)
						case "thoughtSignature":
							return rawString(v, &p.signature, "")
						}
						return nil
					})
					c.parts = append(c.parts, p)
					return err
				})
			})
		}
		return nil
	})
}

// rawString reads a string value into s, reusing last when the value is
// the same (a stream repeats its model and response ID in every event);
// any other value is an error.
func rawString(v jsonscan.Value, s *string, last string) error {
	raw, err := v.Raw()
	if err != nil {
		return err
	}
	// Equal to a last without backslashes, raw has no escapes either.
	if len(raw) >= 2 && raw[0] == '"' && last != "" && string(raw[1:len(raw)-1]) == last && !strings.Contains(last, `\`) {
		*s = last
		return nil
	}
	*s, err = jsonscan.Unquote(raw)
	return err
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
