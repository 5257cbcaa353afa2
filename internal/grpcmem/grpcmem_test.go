package grpcmem

import (
	"bytes"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

func TestPoolTiers(t *testing.T) {
	tests := []struct{ length, wantCap int }{
		{0, 256}, {1, 256}, {256, 256}, {257, 512}, {65536, 65536}, {65537, 131072}, {4 << 20, 4 << 20}, {4<<20 + 1, 4<<20 + 1},
	}
	var p Pool
	for _, tt := range tests {
		b := p.Get(tt.length)
		if len(*b) != tt.length || cap(*b) != tt.wantCap {
			t.Errorf("Get(%d): len %d cap %d, want cap %d", tt.length, len(*b), cap(*b), tt.wantCap)
		}
		p.Put(b)
	}
	// A returned buffer is reused for a request of its tier.
	b := p.Get(1000)
	(*b)[0] = 7
	p.Put(b)
	if c := p.Get(600); cap(*c) != 1024 {
		t.Errorf("reused cap %d, want 1024", cap(*c))
	}
	// Odd capacities are not pooled (no panic, no reuse).
	odd := make([]byte, 10, 300)
	p.Put(&odd)
}

func TestCodecRoundTrip(t *testing.T) {
	for _, size := range []int{10, 64<<10 - 256, 300 << 10} {
		in := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{
			Body: bytes.Repeat([]byte("x"), size), EndOfStream: true,
		}}}
		data, err := Codec{}.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := proto.Marshal(in)
		if got := data.Materialize(); !bytes.Equal(got, want) {
			t.Fatalf("size %d: marshaled %d bytes differ from proto.Marshal's %d", size, len(got), len(want))
		}
		// Split across buffers as frames arrive, then decoded.
		raw := data.Materialize()
		data.Free()
		half := len(raw) / 2
		split := mem.BufferSlice{mem.SliceBuffer(raw[:half]), mem.SliceBuffer(raw[half:])}
		var out extprocv3.ProcessingRequest
		if err := (Codec{}).Unmarshal(split, &out); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(in, &out) {
			t.Fatalf("size %d: round trip differs", size)
		}
	}
	if _, err := (Codec{}).Marshal("not a message"); err == nil {
		t.Error("marshaling a non-message succeeded")
	}
}
