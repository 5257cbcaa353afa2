package app

import (
	"bufio"
	"bytes"
	"flag"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/aigw-dev/aigw/internal/httpproxy"
	"github.com/aigw-dev/aigw/internal/translator"
)

// defaultHeaderReadTimeout is the time a client has to send a request's
// headers.
const defaultHeaderReadTimeout = 10 * time.Second

// limitFlags are the flags bounding what clients can make `aigw run` hold.
// The zero value means every default and no drain delay.
type limitFlags struct {
	bodyBudget        int64
	bodyReadTimeout   time.Duration
	headerReadTimeout time.Duration
	maxHeaders        int
	maxHeaderBytes    int
	maxEventBytes     int
	drainDelay        time.Duration
}

// bodyBudgetShare is the share of the process's memory limit that request
// bodies may hold at once by default.
const bodyBudgetShare = 4

// minBodyBudget keeps the default budget useful on a small machine.
const minBodyBudget = 64 << 20

func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.Int64Var(&l.bodyBudget, "max-buffered-request-bytes", 0,
		"bytes of request bodies held at once across all connections; a request that does not fit gets 503 (default: a quarter of the memory limit: cgroup, GOMEMLIMIT or RAM)")
	fs.DurationVar(&l.bodyReadTimeout, "request-body-timeout", httpproxy.DefaultBodyReadTimeout,
		"answer 408 when a request body makes no progress for this long (negative disables; a ClientTrafficPolicy's timeout.http.requestReceivedTimeout also bounds the whole request)")
	fs.DurationVar(&l.headerReadTimeout, "request-header-timeout", defaultHeaderReadTimeout, "time a client has to send a request's headers")
	fs.IntVar(&l.maxHeaders, "max-request-headers", httpproxy.DefaultMaxRequestHeaders, "most header fields a request may have (431 beyond; Envoy's max_headers_count)")
	fs.IntVar(&l.maxHeaderBytes, "max-request-header-bytes", httpproxy.DefaultMaxRequestHeaderBytes, "largest header section of a request (431 beyond; Envoy's max_request_headers_kb)")
	fs.IntVar(&l.maxEventBytes, "max-response-event-bytes", translator.DefaultMaxEventBytes, "largest event of a streamed response; a larger one ends the stream with an error event")
	fs.DurationVar(&l.drainDelay, "drain-delay", 5*time.Second, "on shutdown, how long /readyz answers 503 while the listeners still accept, so load balancers stop sending first")
}

// gatewayLimits returns the data plane's limits for these flags.
func (l *limitFlags) gatewayLimits() httpproxy.Limits {
	budget := l.bodyBudget
	if budget <= 0 {
		budget = defaultBodyBudget(memoryLimit())
	}
	return httpproxy.Limits{
		BodyBudget:            budget,
		BodyReadTimeout:       l.bodyReadTimeout,
		MaxEventBytes:         l.maxEventBytes,
		MaxRequestHeaders:     l.maxHeaders,
		MaxRequestHeaderBytes: l.maxHeaderBytes,
	}
}

// defaultBodyBudget is a quarter of mem (at least minBodyBudget), or
// httpproxy's default when mem is unknown.
func defaultBodyBudget(mem int64) int64 {
	if mem <= 0 {
		return httpproxy.DefaultBodyBudget
	}
	return max(mem/bodyBudgetShare, minBodyBudget)
}

// memoryLimit returns the memory the process may use: the smallest of
// GOMEMLIMIT, the cgroup's memory.max (v2) or memory.limit_in_bytes (v1)
// and the machine's RAM, or 0 when none is known.
func memoryLimit() int64 {
	limit := int64(math.MaxInt64)
	if l := debug.SetMemoryLimit(-1); l > 0 {
		limit = l
	}
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if v, ok := readLimitFile(f); ok {
			limit = min(limit, v)
		}
	}
	if v, ok := memTotal(); ok {
		limit = min(limit, v)
	}
	if limit == math.MaxInt64 {
		return 0
	}
	return limit
}

// readLimitFile reads a cgroup limit ("max" and absurd values mean none).
func readLimitFile(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil || v <= 0 || v >= 1<<60 {
		return 0, false
	}
	return v, true
}

// memTotal reads MemTotal from /proc/meminfo.
func memTotal() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil || kb <= 0 {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}
