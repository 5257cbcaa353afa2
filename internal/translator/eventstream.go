package translator

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

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
//
// A stream repeats a handful of header blocks (event type, content type,
// message type) over and over, and the SDK's decoder spends most of its
// time and allocations reading them: a header block's bytes decode to the
// same headers every time, so the headers the SDK decoded are kept by
// their bytes, and a later message with the very same header block and
// valid CRCs is taken without decoding it again.
type frames struct {
	limit   int
	buf     []byte
	payload []byte
	dec     *eventstream.Decoder
	known   []decodedHeaders
}

// decodedHeaders is a header block the SDK decoded: its bytes and headers.
type decodedHeaders struct {
	raw     []byte
	headers eventstream.Headers
}

// Bounds of the decoded header blocks a stream keeps.
const (
	maxKnownHeaders     = 8
	maxKnownHeaderBytes = 256
)

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
		msg, ok := f.decodedBefore(data[:total])
		if !ok {
			var err error
			if msg, err = f.decode(data[:total]); err != nil {
				return err
			}
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

// decodedBefore returns the message m, whole, when its header block is one
// the SDK has decoded before and its CRCs are right (as the SDK checks
// them: the prelude's over its first 8 bytes, the message's over all but
// its last 4); the payload aliases m.
func (f *frames) decodedBefore(m []byte) (eventstream.Message, bool) {
	total := len(m)
	headersLen := int(binary.BigEndian.Uint32(m[4:]))
	if headersLen > total-minFrame || len(f.known) == 0 {
		return eventstream.Message{}, false
	}
	block := m[12 : 12+headersLen]
	for _, k := range f.known {
		if !bytes.Equal(k.raw, block) {
			continue
		}
		if crc32.ChecksumIEEE(m[:8]) != binary.BigEndian.Uint32(m[8:]) ||
			crc32.ChecksumIEEE(m[:total-4]) != binary.BigEndian.Uint32(m[total-4:]) {
			return eventstream.Message{}, false // the SDK reports it
		}
		return eventstream.Message{Headers: k.headers, Payload: m[12+headersLen : total-4]}, true
	}
	return eventstream.Message{}, false
}

// decode decodes message m with the SDK and keeps its header block.
func (f *frames) decode(m []byte) (eventstream.Message, error) {
	msg, err := f.dec.Decode(bytes.NewReader(m), f.payload[:0])
	if err != nil {
		return msg, fmt.Errorf("%w: %v", errFrame, err)
	}
	if cap(msg.Payload) > cap(f.payload) {
		f.payload = msg.Payload[:0]
	}
	if headersLen := int(binary.BigEndian.Uint32(m[4:])); len(f.known) < maxKnownHeaders && headersLen <= maxKnownHeaderBytes {
		f.known = append(f.known, decodedHeaders{raw: bytes.Clone(m[12 : 12+headersLen]), headers: msg.Headers})
	}
	return msg, nil
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
