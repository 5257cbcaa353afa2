package translator

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/aigw-dev/aigw/internal/sse"
)

// minFrame is the size of an empty event-stream message: the prelude
// (total and headers lengths, prelude CRC) and the message CRC.
const minFrame = 16

// frames splits an AWS event stream (application/vnd.amazon.eventstream)
// into messages as its bytes arrive, holding at most one incomplete
// message; the AWS SDK's decoder checks each message's CRCs and reads its
// headers, once per distinct header block (see [HeaderBlocks]).
type frames struct {
	limit   int
	buf     []byte
	payload []byte
	dec     *eventstream.Decoder
	known   *HeaderBlocks
}

// HeaderBlocks keeps the header blocks of AWS event streams the SDK has
// decoded, by their bytes. A stream repeats a handful of header blocks
// (event type, content type, message type) over and over, and the SDK's
// decoder spends most of its time and allocations reading them; since a
// header block's bytes decode to the same headers every time, a message
// whose header block is known and whose CRCs are right is taken without
// decoding it again. One HeaderBlocks is meant to be shared by the streams
// of a process ([Options.HeaderBlocks]); it holds at most 256 blocks of at
// most 256 bytes, and is safe for concurrent use.
type HeaderBlocks struct {
	mu     sync.RWMutex
	blocks map[string]eventstream.Headers
}

// Bounds of the header blocks a HeaderBlocks keeps.
const (
	maxHeaderBlocks     = 256
	maxHeaderBlockBytes = 256
)

// NewHeaderBlocks returns an empty HeaderBlocks.
func NewHeaderBlocks() *HeaderBlocks {
	return &HeaderBlocks{blocks: map[string]eventstream.Headers{}}
}

// get returns the headers of a block decoded before. They are shared:
// callers must not modify them.
func (h *HeaderBlocks) get(block []byte) (eventstream.Headers, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	headers, ok := h.blocks[string(block)] // the conversion does not allocate
	return headers, ok
}

// put keeps the headers the SDK decoded from block, while there is room.
func (h *HeaderBlocks) put(block []byte, headers eventstream.Headers) {
	if len(block) > maxHeaderBlockBytes {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.blocks) < maxHeaderBlocks {
		h.blocks[string(block)] = headers
	}
}

func newFrames(limit int, known *HeaderBlocks) frames {
	if limit <= 0 {
		limit = DefaultMaxEventBytes
	}
	if known == nil {
		known = NewHeaderBlocks()
	}
	return frames{limit: limit, dec: eventstream.NewDecoder(), known: known}
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
	if headersLen > total-minFrame {
		return eventstream.Message{}, false // the SDK reports it
	}
	headers, ok := f.known.get(m[12 : 12+headersLen])
	if !ok || crc32.ChecksumIEEE(m[:8]) != binary.BigEndian.Uint32(m[8:]) ||
		crc32.ChecksumIEEE(m[:total-4]) != binary.BigEndian.Uint32(m[total-4:]) {
		return eventstream.Message{}, false
	}
	return eventstream.Message{Headers: headers, Payload: m[12+headersLen : total-4]}, true
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
	f.known.put(m[12:12+int(binary.BigEndian.Uint32(m[4:]))], msg.Headers)
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
