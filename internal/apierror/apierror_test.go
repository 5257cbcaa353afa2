package apierror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantBody   string
	}{
		{name: "client error keeps its message", err: fmt.Errorf("wrapped: %w", InvalidRequest("model", "bad %q", `a"b`)), wantStatus: 400,
			wantBody: `{"error":{"message":"bad \"a\\\"b\"","type":"invalid_request_error","param":"model","code":"invalid_request"}}`},
		{name: "internal error hides its cause", err: errors.New("dial tcp 10.0.0.1:443: secret detail"), wantStatus: 500,
			wantBody: `{"error":{"message":"internal error","type":"internal_error","param":null,"code":"internal_error"}}`},
		{name: "upstream hides its cause", err: Upstream(errors.New("connection reset by 10.1.2.3")), wantStatus: 502,
			wantBody: `{"error":{"message":"the upstream failed to answer","type":"upstream_error","param":null,"code":"upstream_error"}}`},
		{name: "deadline", err: fmt.Errorf("x: %w", context.DeadlineExceeded), wantStatus: 504,
			wantBody: `{"error":{"message":"the request exceeded its timeout","type":"timeout_error","param":null,"code":"request_timeout"}}`},
		{name: "attempt timeout", err: fmt.Errorf("x: %w", ErrUpstreamTimeout), wantStatus: 504,
			wantBody: `{"error":{"message":"the upstream did not answer in time","type":"upstream_timeout","param":null,"code":"upstream_timeout"}}`},
		{name: "cancelled", err: context.Canceled, wantStatus: StatusClientClosedRequest,
			wantBody: `{"error":{"message":"client closed request","type":"invalid_request_error","param":null,"code":"client_closed_request"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := Render(tc.err)
			require.Equal(t, tc.wantStatus, status)
			require.JSONEq(t, tc.wantBody, string(body))
			require.True(t, json.Valid(body))
		})
	}
}

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	w.Header().Set("Content-Encoding", "gzip")
	require.Equal(t, 413, Write(w, BodyTooLarge(10)))
	require.Equal(t, 413, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	require.Empty(t, w.Header().Get("Content-Encoding"))
	require.Equal(t, fmt.Sprint(w.Body.Len()), w.Header().Get("Content-Length"))

	w = httptest.NewRecorder()
	require.Equal(t, StatusClientClosedRequest, Write(w, context.Canceled))
	require.Equal(t, http.StatusOK, w.Code, "nothing is written to a client that is gone")
	require.Zero(t, w.Body.Len())
}

func TestMessageOf(t *testing.T) {
	_, b := Render(Unavailable("no ready endpoint", nil))
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{string(b), "no ready endpoint", true},
		{`inference error: ServiceUnavailable - no endpoints`, "", false},
		{`{"error":{"type":"x"}}`, "", false},
		{`{"message":"flat"}`, "", false},
	} {
		got, ok := MessageOf([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("MessageOf(%s) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestModelNotFoundQuotesACutName(t *testing.T) {
	_, body := Render(ModelNotFound(strings.Repeat("m", 1<<20)))
	require.Less(t, len(body), 1024, "a 1 MB model name is not echoed whole")
	require.Contains(t, string(body), strings.Repeat("m", 256)+`\"`)
}

func TestRenderAnthropic(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		typ  string
		code int
	}{
		{ModelNotFound("x"), "not_found_error", 404},
		{InvalidRequest("model", "no model"), "invalid_request_error", 400},
		{BodyTooLarge(10), "request_too_large", 413},
		{Overloaded("busy"), "overloaded_error", 503},
		{Upstream(nil), "api_error", 502},
		{PoolSaturated(nil), "rate_limit_error", 429},
	} {
		status, body := Render(tc.err.WithFormat(FormatAnthropic))
		require.Equal(t, tc.code, status)
		var got struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(body, &got), "%s", body)
		require.Equal(t, "error", got.Type)
		require.Equal(t, tc.typ, got.Error.Type)
		require.Equal(t, tc.err.Message, got.Error.Message)
		require.Equal(t, FormatOpenAI, tc.err.Format, "WithFormat copies")
	}
}
