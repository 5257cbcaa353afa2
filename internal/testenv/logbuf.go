package testenv

import (
	"bytes"
	"sync"
)

// logBufferLimit bounds what a logBuffer keeps: the end of a child's output,
// which is where the reason for a failure usually is.
const logBufferLimit = 512 << 10

// logBuffer is an io.Writer safe for concurrent use that keeps the last
// logBufferLimit bytes written to it.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
}

func newLogBuffer() *logBuffer { return &logBuffer{} }

// Write implements [io.Writer].
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - logBufferLimit; over > 0 {
		// Drop at least a quarter, so trimming is rare.
		n := max(over, logBufferLimit/4)
		b.buf.Next(n)
		b.dropped += n
	}
	return len(p), nil
}

// String returns what is kept, prefixed with a note when the start was dropped.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return "[... first bytes dropped ...]\n" + b.buf.String()
	}
	return b.buf.String()
}
