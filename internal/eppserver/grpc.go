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
//   - 4 MiB stream and 32 MiB connection windows let a large body (and its
//     echo) flow without waiting for window updates (gRPC's default is
//     64 KiB).
//   - Message buffers come from grpcmem, which does not clear 1 MiB for
//     every 64 KiB body chunk as gRPC's default pool does.
func ServerOptions() []grpc.ServerOption {
	return append(grpcmem.ServerOptions(),
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
		grpc.SharedWriteBuffer(true),
		grpc.InitialWindowSize(4<<20),
		grpc.InitialConnWindowSize(32<<20),
	)
}
