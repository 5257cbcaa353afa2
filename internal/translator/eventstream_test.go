package translator

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/providertest"
)

// TestFramesKnownHeaders checks that messages whose header block the SDK
// decoded before are read the same as the SDK reads them, and that a
// corrupted one is still refused.
func TestFramesKnownHeaders(t *testing.T) {
	events := []providertest.AWSEvent{
		{Event: "contentBlockDelta", Payload: []byte(`{"delta":{"text":"a"}}`)},
		{Event: "contentBlockDelta", Payload: []byte(`{"delta":{"text":"bc"}}`)},
		{Event: "messageStop", Payload: []byte(`{"stopReason":"end_turn"}`)},
		{Event: "contentBlockDelta", Payload: nil},
		{Exception: "throttlingException", Payload: []byte(`{"message":"slow down"}`)},
		{Event: "contentBlockDelta", Payload: []byte(`{"delta":{"text":"d"}}`)},
	}
	stream, err := providertest.EncodeAWSEvents(events)
	require.NoError(t, err)

	type seen struct{ event, exception, payload string }
	read := func(f *frames, b []byte) ([]seen, error) {
		var got []seen
		err := f.feed(b, func(m eventstream.Message) error {
			got = append(got, seen{header(m, ":event-type"), header(m, ":exception-type"), string(m.Payload)})
			return nil
		})
		return got, err
	}
	f := newFrames(0, nil)
	got, err := read(&f, stream)
	require.NoError(t, err)
	var want []seen
	for _, e := range events {
		want = append(want, seen{e.Event, e.Exception, string(e.Payload)})
	}
	require.Equal(t, want, got)
	require.Len(t, f.known.blocks, 3, "one decoded header block per distinct one")

	// Byte by byte, the same.
	f = newFrames(0, nil)
	got = nil
	for i := range stream {
		part, err := read(&f, stream[i:i+1])
		require.NoError(t, err)
		got = append(got, part...)
	}
	require.Equal(t, want, got)

	// A known header block does not spare the CRC checks.
	for _, at := range []int{9, 20, 30} { // the prelude CRC, a header, the payload
		second, err := providertest.EncodeAWSEvents(events[1:2])
		require.NoError(t, err)
		second[at] ^= 1
		f = newFrames(0, nil)
		_, err = read(&f, append(stream[:len(stream):len(stream)], second...))
		require.ErrorIs(t, err, errFrame, "byte %d", at)
	}
}
