package processor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apierror"
)

func TestErrorText(t *testing.T) {
	tests := []struct {
		name, body, contentType, want string
	}{
		{"html title", "<html><head><title> 503 Service\n Unavailable </title></head><body>x</body></html>", "text/html", "503 Service Unavailable"},
		{"html without title", "<html><body><h1>Bad</h1><p>gateway  down</p></body></html>", "text/html", "Bad gateway down"},
		{"sniffed html", "  <h1>oops</h1>", "", "oops"},
		{"plain", "upstream connect error or disconnect/reset before headers", "text/plain", "upstream connect error or disconnect/reset before headers"},
		{"long", strings.Repeat("é", 300), "text/plain", strings.Repeat("é", 128) + "…"},
		{"not utf-8", "bad \xff\xfe byte", "text/plain", "bad byte"},
		{"empty", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, errorText([]byte(tc.body), tc.contentType))
		})
	}
}

func TestStreamErrorLabels(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"client gone", context.Canceled, 499, "client_closed_request"},
		{"route timeout", ErrRequestTimeout, http.StatusGatewayTimeout, "request_timeout"},
		{"idle upstream", fmt.Errorf("%w: no data within the stream idle timeout", apierror.ErrUpstreamTimeout), http.StatusGatewayTimeout, "upstream_timeout"},
		{"reset", errors.New("connection reset by peer"), http.StatusBadGateway, "upstream_error"},
		{"truncated", io.ErrUnexpectedEOF, http.StatusBadGateway, "upstream_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := streamError(tc.err)
			require.Equal(t, tc.status, e.Status)
			require.Equal(t, tc.code, e.Code)
		})
	}
}
