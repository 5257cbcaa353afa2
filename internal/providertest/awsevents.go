package providertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// AWSEvent is one message of an AWS event stream: an event of Event type,
// or an exception when Exception is set.
type AWSEvent struct {
	Event     string          `json:"event,omitempty"`
	Exception string          `json:"exception,omitempty"`
	Payload   json.RawMessage `json:"payload"`
}

// EncodeAWSEvents writes events as the AWS SDK's encoder frames them
// (application/vnd.amazon.eventstream).
func EncodeAWSEvents(events []AWSEvent) ([]byte, error) {
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, e := range events {
		var h eventstream.Headers
		if e.Exception != "" {
			h.Set(":message-type", eventstream.StringValue("exception"))
			h.Set(":exception-type", eventstream.StringValue(e.Exception))
		} else {
			h.Set(":message-type", eventstream.StringValue("event"))
			h.Set(":event-type", eventstream.StringValue(e.Event))
		}
		h.Set(":content-type", eventstream.StringValue("application/json"))
		if err := enc.Encode(&buf, eventstream.Message{Headers: h, Payload: e.Payload}); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// ReadAWSEvents reads events from a JSON Lines file.
func ReadAWSEvents(path string) ([]AWSEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []AWSEvent
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e AWSEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// DecodeAWSEvents reads an event stream back into events.
func DecodeAWSEvents(b []byte) ([]AWSEvent, error) {
	r := bytes.NewReader(b)
	dec := eventstream.NewDecoder()
	var out []AWSEvent
	for r.Len() > 0 {
		m, err := dec.Decode(r, nil)
		if err != nil {
			return nil, err
		}
		e := AWSEvent{Payload: m.Payload}
		if v := m.Headers.Get(":event-type"); v != nil {
			e.Event = v.String()
		}
		if v := m.Headers.Get(":exception-type"); v != nil {
			e.Exception = v.String()
		}
		out = append(out, e)
	}
	return out, nil
}
