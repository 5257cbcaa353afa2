package eppserver

import (
	"runtime"

	"google.golang.org/grpc"

	"github.com/aigw-dev/aigw/internal/grpcmem"
)

// ServerOptions are the gRPC settings the picker is tuned for: many short
// streams (one per request) and request bodies of up to hundreds of
// kilobytes in flight.
//
//   - Stream workers reuse goroutines across streams; the shared write
//     buffer saves an allocation per write.
//   - grpcmem's settings for large messages: windows that let a large body
//     (and its echo) flow without waiting for window updates, and message
//     buffers that are not cleared (gRPC's default pool clears 1 MiB for
//     every 64 KiB body chunk).
func ServerOptions() []grpc.ServerOption {
	return append(grpcmem.ServerOptions(),
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
		grpc.SharedWriteBuffer(true),
	)
}
