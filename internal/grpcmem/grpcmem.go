// Package grpcmem gives gRPC connections that carry large messages (request
// and response bodies crossing the endpoint-picker stream) a buffer pool and
// a proto codec that do not clear memory they are about to overwrite.
//
// gRPC's default pool has tiers of 256 B, 4 KiB, 16 KiB, 32 KiB and 1 MiB
// and clears a reused buffer's whole capacity on every Get, and its proto
// codec marshals into that pool: a 64 KiB body chunk then costs clearing
// 1 MiB on each side, which profiled as the largest cost of a 220 KB prompt
// crossing a picker. [Pool] has power-of-two tiers up to 4 MiB and hands out
// buffers as they are: every user writes (marshals, or reads from the
// connection) exactly the bytes it then reads, so stale contents are never
// observed. [Codec] is gRPC's proto codec over [Pool]. Flow-control
// windows are raised too: with gRPC's 64 KiB default, a large body waits
// for window updates from the peer.
//
// Use [DialOptions] on clients and [ServerOptions] on servers.
package grpcmem

import (
	"fmt"
	"math/bits"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// Tier bounds: buffers of 2^minShift to 2^maxShift bytes are pooled; larger
// requests are allocated and dropped on Put.
const (
	minShift = 8
	maxShift = 22
)

// Pool is a mem.BufferPool with power-of-two tiers that does not clear
// reused buffers. The zero value is ready to use; it is safe for concurrent
// use.
type Pool struct {
	tiers [maxShift - minShift + 1]sync.Pool
}

var _ mem.BufferPool = (*Pool)(nil)

// tier returns the index of the smallest tier holding n bytes, or -1.
func tier(n int) int {
	if n <= 1<<minShift {
		return 0
	}
	s := bits.Len(uint(n - 1)) // smallest s with 2^s >= n
	if s > maxShift {
		return -1
	}
	return s - minShift
}

// Get implements mem.BufferPool.
func (p *Pool) Get(length int) *[]byte {
	i := tier(length)
	if i < 0 {
		b := make([]byte, length)
		return &b
	}
	if v, ok := p.tiers[i].Get().(*[]byte); ok {
		*v = (*v)[:length]
		return v
	}
	b := make([]byte, length, 1<<(minShift+i))
	return &b
}

// Put implements mem.BufferPool; buffers whose capacity is not a tier size
// are dropped.
func (p *Pool) Put(b *[]byte) {
	c := cap(*b)
	if c < 1<<minShift || c > 1<<maxShift || c&(c-1) != 0 {
		return
	}
	*b = (*b)[:0]
	p.tiers[bits.Len(uint(c))-1-minShift].Put(b)
}

// Default is the pool [Codec], [DialOptions] and [ServerOptions] use.
var Default = &Pool{}

// Codec is gRPC's proto codec (name "proto") marshaling into and
// materializing from [Default].
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

// Marshal implements encoding.CodecV2.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	m := messageOf(v)
	if m == nil {
		return nil, fmt.Errorf("grpcmem: cannot marshal %T, want a proto message", v)
	}
	size := proto.Size(m)
	opts := proto.MarshalOptions{UseCachedSize: true} // size was just computed
	if mem.IsBelowBufferPoolingThreshold(size) {
		b, err := opts.Marshal(m)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	buf := Default.Get(size)
	out, err := opts.MarshalAppend((*buf)[:0], m)
	if err != nil {
		Default.Put(buf)
		return nil, err
	}
	*buf = out
	return mem.BufferSlice{mem.NewBuffer(buf, Default)}, nil
}

// Unmarshal implements encoding.CodecV2. proto.Unmarshal copies bytes
// fields, so the buffer is released at once.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m := messageOf(v)
	if m == nil {
		return fmt.Errorf("grpcmem: cannot unmarshal into %T, want a proto message", v)
	}
	buf := data.MaterializeToBuffer(Default)
	defer buf.Free()
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// Name implements encoding.CodecV2.
func (Codec) Name() string { return "proto" }

func messageOf(v any) proto.Message {
	switch v := v.(type) {
	case protoadapt.MessageV2:
		return v
	case protoadapt.MessageV1:
		return protoadapt.MessageV2Of(v)
	}
	return nil
}

// Flow-control windows: a stream may hold a whole large body in flight, a
// connection many of them.
const (
	StreamWindow = 4 << 20
	ConnWindow   = 32 << 20
)

// DialOptions make a client connection use [Codec], [Default] and the
// large windows.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(Codec{})),
		experimental.WithBufferPool(Default),
		grpc.WithInitialWindowSize(StreamWindow),
		grpc.WithInitialConnWindowSize(ConnWindow),
	}
}

// ServerOptions make a server use [Codec], [Default] and the large
// windows.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(Codec{}),
		experimental.BufferPool(Default),
		grpc.InitialWindowSize(StreamWindow),
		grpc.InitialConnWindowSize(ConnWindow),
	}
}
