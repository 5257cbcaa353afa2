package translator

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aigw-dev/aigw/internal/sse"
)

// minFrame is the size of an empty event-stream message: the prelude
// (total and headers lengths, prelude CRC) and the message CRC.
const minFrame = 16

// frames splits an AWS event stream (application/vnd.amazon.eventstream)
// into messages as its bytes arrive, holding at most one incomplete
// message; the AWS SDK's decoder checks each message's CRCs and reads its
// headers.
type frames struct {
	limit   int
	buf     []byte
	payload []byte
	dec     *eventstream.Decoder
}

func newFrames(limit int) frames {
	if limit <= 0 {
		limit = DefaultMaxEventBytes
	}
	return frames{limit: limit, dec: eventstream.NewDecoder()}
}

// errFrame marks a malformed event stream.
var errFrame = errors.New("malformed AWS event stream")

// feed calls fn with every message chunk completes. A message's payload is
// valid only during the call.
func (f *frames) feed(chunk []byte, fn func(eventstream.Message) error) error {
	data := chunk
	if len(f.buf) > 0 {
		f.buf = append(f.buf, chunk...)
		data = f.buf
	}
	for len(data) >= 4 {
		total := int(binary.BigEndian.Uint32(data))
		if total > f.limit {
			return fmt.Errorf("%w: an event stream message of %d bytes (limit %d)", sse.ErrEventTooLarge, total, f.limit)
		}
		if total < minFrame {
			return fmt.Errorf("%w: a message of %d bytes", errFrame, total)
		}
		if len(data) < total {
			break
		}
		msg, err := f.dec.Decode(bytes.NewReader(data[:total]), f.payload[:0])
		if err != nil {
			return fmt.Errorf("%w: %v", errFrame, err)
		}
		if cap(msg.Payload) > cap(f.payload) {
			f.payload = msg.Payload[:0]
		}
		if err := fn(msg); err != nil {
			return err
		}
		data = data[total:]
	}
	// Keep the incomplete rest, copied to the buffer's start.
	f.buf = append(f.buf[:0], data...)
	return nil
}

// pending reports whether an incomplete message is held.
func (f *frames) pending() bool { return len(f.buf) > 0 }

// header returns a string header of a message, "" when absent.
func header(m eventstream.Message, name string) string {
	if v := m.Headers.Get(name); v != nil {
		return v.String()
	}
	return ""
}
