package processor

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/labels"
)

// maxErrorText bounds the upstream text kept in a wrapped error message.
const maxErrorText = 256

// maxErrorBodyRead bounds how much of a non-JSON error body is read to
// find that text.
const maxErrorBodyRead = 16 << 10

// wrappedError is the OpenAI-shaped error that replaces a non-JSON error
// body of an upstream (an HTML 503 page from a load balancer, a plain-text
// 502): it keeps the status and quotes the start of the text raw, of
// content type contentType, so clients always get the error shape the API
// promises. JSON error bodies (OpenAI compatible servers' own) are not
// wrapped.
func wrappedError(status int, raw []byte, contentType string, format apierror.Format) []byte {
	text := errorText(raw, contentType)
	msg := "the upstream answered " + strconv.Itoa(status)
	if text != "" {
		msg += ": " + text
	}
	e := &apierror.Error{Status: status, Type: upstreamErrorType(status), Code: "upstream_" + strconv.Itoa(status), Message: msg, Format: format}
	_, body := apierror.Render(e)
	return body
}

// upstreamErrorType is the OpenAI error type of an upstream status.
func upstreamErrorType(status int) apierror.Type {
	switch {
	case status == http.StatusTooManyRequests:
		return apierror.TypeRateLimit
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return apierror.TypeAuthentication
	case status == http.StatusNotFound:
		return apierror.TypeNotFound
	case status == http.StatusServiceUnavailable:
		return apierror.TypeServiceUnavailable
	case status >= 500:
		return apierror.TypeUpstream
	default:
		return apierror.TypeInvalidRequest
	}
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// errorText is the readable start of an error body: an HTML page's title,
// or its text without tags, with whitespace collapsed, cut to
// maxErrorText bytes on a character boundary. Bytes that are not UTF-8 are
// dropped.
func errorText(raw []byte, contentType string) string {
	s := strings.ToValidUTF8(string(raw), "")
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "text/html" || strings.HasPrefix(strings.TrimSpace(s), "<") {
		if t := htmlTitle(s); t != "" {
			s = t
		} else {
			s = stripTags(s)
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxErrorText {
		s = labels.Truncate(s, maxErrorText) + "…"
	}
	return s
}

// htmlTitle returns the text of the page's <title>, if any.
func htmlTitle(s string) string {
	lower := strings.ToLower(s)
	i := strings.Index(lower, "<title")
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(lower[i:], '>')
	if j < 0 {
		return ""
	}
	start := i + j + 1
	end := strings.Index(lower[start:], "</title")
	if end < 0 {
		return ""
	}
	return strings.TrimSpace(s[start : start+end])
}

// stripTags drops what lies between '<' and '>'.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
			b.WriteByte(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}
