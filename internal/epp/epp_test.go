package epp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/epp"
	"github.com/aigw-dev/aigw/internal/epp/epptest"
)

func TestParseEndpoints(t *testing.T) {
	tests := []struct {
		in      string
		want    []epp.Endpoint
		wantErr bool
	}{
		{in: "10.0.0.1:8000", want: []epp.Endpoint{{IP: "10.0.0.1", Port: 8000}}},
		{in: "10.0.0.1:8000, 10.0.0.2:8001", want: []epp.Endpoint{{IP: "10.0.0.1", Port: 8000}, {IP: "10.0.0.2", Port: 8001}}},
		{in: "[fd00::1]:8000", want: []epp.Endpoint{{IP: "fd00::1", Port: 8000}}},
		{in: "10.0.0.3", want: []epp.Endpoint{{IP: "10.0.0.3"}}},
		{in: "fd00::2", want: []epp.Endpoint{{IP: "fd00::2"}}},
		{in: "", wantErr: true},
		{in: "pod-a:8000", wantErr: true},
		{in: "10.0.0.1:0", wantErr: true},
		{in: "10.0.0.1:8000,", wantErr: true},
	}
	for _, tc := range tests {
		got, err := epp.ParseEndpoints(tc.in)
		if tc.wantErr {
			require.ErrorIs(t, err, epp.ErrPickerFailed, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func picker(t *testing.T, s *epptest.Server, timeout time.Duration) *epp.Picker {
	conns := epp.NewConns(nil)
	t.Cleanup(conns.Close)
	p, err := conns.Get(&config.EndpointPicker{Name: "default/epp", Address: s.Addr, MessageTimeout: config.Duration(timeout)})
	require.NoError(t, err)
	return p
}

func request(body string) *epp.Request {
	return &epp.Request{Method: "POST", Path: "/v1/chat/completions", Authority: "gw", Scheme: "http",
		Header: http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r1"}}, Body: []byte(body)}
}

func TestRequestPhase(t *testing.T) {
	big := `{"model":"m","prompt":"` + strings.Repeat("x", 200<<10) + `"}`
	for _, style := range []epptest.Style{epptest.Replace, epptest.Ack} {
		for _, body := range []string{`{"model":"m"}`, big, ``} {
			var seen map[string]string
			var seenBody []byte
			s := epptest.Start(t, style, func(h map[string]string, b []byte) epptest.Decision {
				seen, seenBody = h, b
				return epptest.Decision{Pick: "10.0.0.1:8000,10.0.0.2:8000"}
			})
			x, d, err := picker(t, s, time.Second).Start(context.Background(), request(body))
			require.NoError(t, err)
			require.NotNil(t, x)
			require.Equal(t, []epp.Endpoint{{IP: "10.0.0.1", Port: 8000}, {IP: "10.0.0.2", Port: 8000}}, d.Endpoints)
			require.Equal(t, "/v1/chat/completions", seen[":path"])
			require.Equal(t, "POST", seen[":method"])
			require.Equal(t, "r1", seen["x-request-id"])
			require.Equal(t, body, string(seenBody), "the body reaches the picker whole, in order")
			if style == epptest.Replace && body != "" {
				require.Equal(t, body, string(d.Body), "streamed replacements of ≤62 000 bytes concatenate to the body")
			} else {
				require.Nil(t, d.Body)
			}
			x.Close()
		}
	}
}

func TestRequestPhaseFailures(t *testing.T) {
	tests := []struct {
		name string
		d    epptest.Decision
	}{
		{name: "grpc error", d: epptest.Decision{Fail: true}},
		{name: "timeout", d: epptest.Decision{Hang: true}},
		{name: "no pick", d: epptest.Decision{}},
		{name: "invalid pick", d: epptest.Decision{Pick: "example.com:80"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := epptest.Start(t, epptest.Replace, func(map[string]string, []byte) epptest.Decision { return tc.d })
			_, _, err := picker(t, s, 200*time.Millisecond).Start(context.Background(), request(`{"model":"m"}`))
			require.ErrorIs(t, err, epp.ErrPickerFailed)
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		s := epptest.Start(t, epptest.Replace, nil)
		s.Stop()
		_, _, err := picker(t, s, time.Second).Start(context.Background(), request(`{"model":"m"}`))
		require.ErrorIs(t, err, epp.ErrPickerFailed)
	})
	t.Run("no address", func(t *testing.T) {
		conns := epp.NewConns(nil)
		defer conns.Close()
		p, err := conns.Get(&config.EndpointPicker{Name: "default/missing"})
		require.NoError(t, err)
		_, _, err = p.Start(context.Background(), request(`{}`))
		require.ErrorIs(t, err, epp.ErrPickerFailed)
	})
}

func TestImmediateResponse(t *testing.T) {
	s := epptest.Start(t, epptest.Ack, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Immediate: 429} })
	x, d, err := picker(t, s, time.Second).Start(context.Background(), request(`{"model":"m"}`))
	require.NoError(t, err)
	require.Nil(t, x)
	require.Equal(t, 429, d.Immediate.Status)
	require.Equal(t, "inference error: injected", string(d.Immediate.Body))
}

// upstreamBody yields chunks one by one, like a streamed response.
type upstreamBody struct {
	chunks [][]byte
	err    error
	closed bool
}

func (u *upstreamBody) Read(p []byte) (int, error) {
	if len(u.chunks) == 0 {
		if u.err != nil {
			return 0, u.err
		}
		return 0, io.EOF
	}
	n := copy(p, u.chunks[0])
	u.chunks[0] = u.chunks[0][n:]
	if len(u.chunks[0]) == 0 {
		u.chunks = u.chunks[1:]
	}
	return n, nil
}

func (u *upstreamBody) Close() error { u.closed = true; return nil }

func TestResponsePhase(t *testing.T) {
	sse := [][]byte{[]byte("data: {\"a\":1}\n\n"), []byte("data: {\"a\":2}\n\n"), []byte("data: [DONE]\n\n")}
	for _, style := range []epptest.Style{epptest.Replace, epptest.Ack} {
		for _, ct := range []string{"text/event-stream", "application/json"} {
			s := epptest.Start(t, style, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: "10.0.0.1:8000"} })
			x, _, err := picker(t, s, time.Second).Start(context.Background(), request(`{"model":"m"}`))
			require.NoError(t, err)
			mut, err := x.ResponseHeaders(200, http.Header{"Content-Type": {ct}}, "10.0.0.1:8000")
			require.NoError(t, err)
			h := http.Header{}
			mut.Apply(h)
			require.Equal(t, "true", h.Get("X-Went-Into-Resp-Headers"))
			up := &upstreamBody{chunks: append([][]byte(nil), sse...)}
			body := x.ResponseBody(up)
			got, err := io.ReadAll(body)
			require.NoError(t, err)
			require.NoError(t, body.Close())
			require.Equal(t, string(bytes.Join(sse, nil)), string(got), "style %v %s", style, ct)
			require.True(t, up.closed)
			require.Equal(t, []string{"10.0.0.1:8000"}, s.Served())
		}
	}
}

func TestResponsePhasePickerDiesWhileAcknowledging(t *testing.T) {
	s := epptest.Start(t, epptest.Ack, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: "10.0.0.1:8000"} })
	x, _, err := picker(t, s, 300*time.Millisecond).Start(context.Background(), request(`{"model":"m"}`))
	require.NoError(t, err)
	_, err = x.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}, "10.0.0.1:8000")
	require.NoError(t, err)
	s.Stop()
	chunks := [][]byte{[]byte("data: 1\n\n"), []byte("data: 2\n\n")}
	got, err := io.ReadAll(x.ResponseBody(&upstreamBody{chunks: append([][]byte(nil), chunks...)}))
	require.NoError(t, err, "a failed picker loses none of the response")
	require.Equal(t, "data: 1\n\ndata: 2\n\n", string(got))
}

func TestResponsePhaseUpstreamBreaks(t *testing.T) {
	s := epptest.Start(t, epptest.Replace, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: "10.0.0.1:8000"} })
	// With an hour-long message timeout, a reader that waited for the
	// picker instead of noticing the broken upstream would hang the test.
	x, _, err := picker(t, s, time.Hour).Start(context.Background(), request(`{"model":"m"}`))
	require.NoError(t, err)
	_, err = x.ResponseHeaders(200, http.Header{"Content-Type": {"text/event-stream"}}, "10.0.0.1:8000")
	require.NoError(t, err)
	broken := errors.New("connection reset by peer")
	got, err := io.ReadAll(x.ResponseBody(&upstreamBody{chunks: [][]byte{[]byte("data: 1\n\n")}, err: broken}))
	require.ErrorIs(t, err, broken, "the model server's failure, not the picker's, is reported")
	// The echo of the chunk sent before the failure may or may not have
	// arrived before the stream was ended; nothing else may appear.
	require.True(t, strings.HasPrefix("data: 1\n\n", string(got)), "%q", got)
}

func TestHealthCheckFailsFast(t *testing.T) {
	s := epptest.Start(t, epptest.Replace, func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: "10.0.0.1:8000"} })
	s.SetServing(false)
	conns := epp.NewConns(nil)
	t.Cleanup(conns.Close)
	p, err := conns.Get(&config.EndpointPicker{Name: "default/epp", Address: s.Addr, HealthAddress: s.Addr, HealthService: []string{"inference-extension", epptest.HealthService}})
	require.NoError(t, err)
	// The first check runs at once; until it reports, requests still go to
	// the picker.
	require.Eventually(t, func() bool {
		_, _, err := p.Start(context.Background(), request(`{"model":"m"}`))
		return errors.Is(err, epp.ErrPickerFailed) && strings.Contains(err.Error(), "NOT_SERVING")
	}, 10*time.Second, 10*time.Millisecond)
	before := s.Requests()
	_, _, err = p.Start(context.Background(), request(`{"model":"m"}`))
	require.ErrorIs(t, err, epp.ErrPickerFailed)
	require.Equal(t, before, s.Requests(), "a NOT_SERVING picker is not asked")
}

// TestRetainClosesDroppedPickersAfterTheirExchanges checks a reload that
// drops a picker: its connection stays while an exchange is open (the
// response still flows through it), then closes; a kept picker's connection
// is untouched.
func TestRetainClosesDroppedPickersAfterTheirExchanges(t *testing.T) {
	decide := func(map[string]string, []byte) epptest.Decision { return epptest.Decision{Pick: "10.0.0.1:8000"} }
	dropped, kept := epptest.Start(t, epptest.Replace, decide), epptest.Start(t, epptest.Replace, decide)
	conns := epp.NewConns(nil)
	defer conns.Close()
	droppedCfg := &config.EndpointPicker{Name: "default/old", Address: dropped.Addr}
	keptCfg := &config.EndpointPicker{Name: "default/kept", Address: kept.Addr}
	pd, err := conns.Get(droppedCfg)
	require.NoError(t, err)
	pk, err := conns.Get(keptCfg)
	require.NoError(t, err)

	x, d, err := pd.Start(t.Context(), request(`{"model":"m","messages":[]}`))
	require.NoError(t, err)
	require.Len(t, d.Endpoints, 1)

	conns.Retain([]*config.EndpointPicker{keptCfg})
	require.Equal(t, 1, conns.Len())
	// The open exchange finishes its response phase on the retired connection.
	_, err = x.ResponseHeaders(200, http.Header{"Content-Type": {"application/json"}}, "10.0.0.1:8000")
	require.NoError(t, err)
	body, err := io.ReadAll(x.ResponseBody(io.NopCloser(strings.NewReader(`{"ok":true}`))))
	require.NoError(t, err)
	require.JSONEq(t, `{"ok":true}`, string(body))
	x.Close()

	// Now the retired connection is closed: a late exchange fails as a
	// picker failure; the kept picker still works.
	_, _, err = pd.Start(t.Context(), request(`{"model":"m","messages":[]}`))
	require.ErrorIs(t, err, epp.ErrPickerFailed)
	xk, _, err := pk.Start(t.Context(), request(`{"model":"m","messages":[]}`))
	require.NoError(t, err)
	xk.Close()
}
