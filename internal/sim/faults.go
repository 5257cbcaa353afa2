package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// faultHeader is the request header that asks for a fault; its value has the
// same grammar as --fault (see doc.go).
const faultHeader = "x-sim-fault"

// faultSpec is a parsed fault directive list such as
// "status=503,rate=20" or "reset-after=3,slow-stream=50ms". Its delays are
// wall-clock time, not scaled by --time-scale: they exercise the client's
// timeouts.
type faultSpec struct {
	status        int         // answer with this status
	failure       FailureType // answer with this canned failure
	hang          bool        // never answer; wait for the client or shutdown
	resetAfter    int         // reset the connection after this many SSE events; -1 = never
	slowFirstByte time.Duration
	slowStream    time.Duration // extra delay before every SSE event
	rate          float64       // percentage of requests the spec applies to
}

// parseFaultSpec parses comma- or semicolon-separated directives:
// status=N, type=<failure type>, hang, reset-after=N (reset means
// reset-after=0), slow-first-byte=DURATION, slow-stream=DURATION, rate=PERCENT.
func parseFaultSpec(s string) (*faultSpec, error) {
	f := &faultSpec{resetAfter: -1, rate: 100}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' })
	if len(fields) == 0 {
		return nil, errors.New("empty fault spec")
	}
	for _, field := range fields {
		key, val, hasVal := strings.Cut(strings.TrimSpace(field), "=")
		key, val = strings.TrimSpace(strings.ToLower(key)), strings.TrimSpace(val)
		var err error
		switch flagOnly := key == "hang" || key == "reset"; {
		case flagOnly && hasVal:
			err = errors.New("takes no value")
		case !flagOnly && !hasVal:
			err = errors.New("needs a value")
		}
		if err != nil {
			return nil, fmt.Errorf("fault directive %q: %w", field, err)
		}
		switch key {
		case "status":
			f.status, err = strconv.Atoi(val)
			if err == nil && (f.status < 100 || f.status > 599) {
				err = fmt.Errorf("status %d is not an HTTP status", f.status)
			}
		case "type":
			f.failure = FailureType(val)
			if !slices.Contains(allFailureTypes(), f.failure) {
				err = fmt.Errorf("unknown failure type %q", val)
			}
		case "hang":
			f.hang = true
		case "reset":
			f.resetAfter = 0
		case "reset-after":
			f.resetAfter, err = strconv.Atoi(val)
			if err == nil && f.resetAfter < 0 {
				err = errors.New("reset-after must not be negative")
			}
		case "slow-first-byte":
			f.slowFirstByte, err = parseDuration(val)
		case "slow-stream":
			f.slowStream, err = parseDuration(val)
		case "rate":
			f.rate, err = strconv.ParseFloat(val, 64)
			if err == nil && (f.rate < 0 || f.rate > 100) {
				err = fmt.Errorf("rate %v is not within 0-100", f.rate)
			}
		default:
			err = errors.New("unknown directive")
		}
		if err != nil {
			return nil, fmt.Errorf("fault directive %q: %w", field, err)
		}
	}
	return f, nil
}

// parseDuration accepts Go durations ("500ms") and, like llm-d-inference-sim's
// deprecated integer form, plain milliseconds.
func parseDuration(s string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, fmt.Errorf("negative duration %d", ms)
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parse duration: %w", err)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %s", s)
	}
	return d, nil
}

// failsRequest reports whether the spec answers with an error status.
func (f *faultSpec) failsRequest() bool { return f.status != 0 || f.failure != "" }

// pickFault decides the fault for one request: the x-sim-fault header if
// present, else --fault, each applied with its rate; else, with
// --failure-injection-rate, one of --failure-types. It returns nil for none.
func (in *Instance) pickFault(r *http.Request, rng *rand.Rand) (*faultSpec, error) {
	spec := in.defaultFault
	if h := r.Header.Get(faultHeader); h != "" {
		var err error
		if spec, err = parseFaultSpec(h); err != nil {
			return nil, badRequest("", "invalid %s header: %s", faultHeader, err)
		}
	}
	if spec != nil && spec.rate < 100 && rng.Float64()*100 >= spec.rate {
		spec = nil
	}
	if spec == nil && in.opts.FailureInjectionRate > 0 && rng.Float64()*100 < in.opts.FailureInjectionRate {
		types := in.opts.FailureTypes
		if len(types) == 0 {
			types = allFailureTypes()
		}
		spec = &faultSpec{failure: types[rng.IntN(len(types))], resetAfter: -1, rate: 100}
	}
	return spec, nil
}

// faultError is the error an injected failure answers with.
func (in *Instance) faultError(f *faultSpec, model string) *apiError {
	var e *apiError
	switch f.failure {
	case FailureRateLimit:
		e = &apiError{Status: http.StatusTooManyRequests, Type: "RateLimitError",
			Message: fmt.Sprintf("Rate limit reached for %s. Please try again later.", model)}
	case FailureInvalidAPIKey:
		e = &apiError{Status: http.StatusUnauthorized, Type: "AuthenticationError", Message: "Incorrect API key provided."}
	case FailureContextLength:
		e = badRequest("input_tokens", "This model's maximum context length is %d tokens. "+
			"However, your request has %d input tokens. Please reduce the length of the input messages.",
			in.opts.MaxModelLen, in.opts.MaxModelLen+1)
	case FailureServerError:
		e = &apiError{Status: http.StatusInternalServerError, Type: "InternalServerError",
			Message: "The server had an error while processing your request."}
	case FailureInvalidRequest:
		e = badRequest("", "Invalid request: the simulator injected this failure.")
	case FailureModelNotFound:
		e = modelNotFound(model)
	default:
		e = &apiError{Status: f.status, Type: statusErrorType(f.status),
			Message: fmt.Sprintf("Injected fault: HTTP %d.", f.status)}
	}
	if f.status != 0 && f.status != e.Status {
		c := *e
		c.Status = f.status
		e = &c
	}
	return e
}

// statusErrorType is the error type vLLM would report for a status: its own
// names for the statuses it raises, the HTTP phrase (as vLLM's
// HTTPException handler does) for the rest.
func statusErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BadRequestError"
	case http.StatusNotFound:
		return "NotFoundError"
	case http.StatusInternalServerError:
		return "InternalServerError"
	case http.StatusNotImplemented:
		return "NotImplementedError"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

// resetConnection abruptly closes the client connection: with a TCP reset
// when the connection can be hijacked (HTTP/1.x), else by aborting the handler.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // close with RST instead of FIN
	}
	_ = conn.Close()
}
