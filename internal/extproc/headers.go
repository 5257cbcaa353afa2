package extproc

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// message is one request's or response's headers as Envoy sent them:
// pseudo-headers apart, the rest as an http.Header.
type message struct {
	pseudo map[string]string // ":method", ":path", ":authority", ":status"…
	header http.Header
}

// readHeaders converts Envoy's header map. A value comes in raw_value
// (Envoy's default) or, from older proxies, in value.
func readHeaders(m *corev3.HeaderMap) message {
	msg := message{pseudo: map[string]string{}, header: make(http.Header, len(m.GetHeaders()))}
	for _, h := range m.GetHeaders() {
		v := string(h.GetRawValue())
		if v == "" {
			v = h.GetValue()
		}
		k := h.GetKey()
		if strings.HasPrefix(k, ":") {
			msg.pseudo[strings.ToLower(k)] = v
			continue
		}
		msg.header.Add(k, v)
	}
	return msg
}

// headerDiff returns the mutation that turns before into after: headers
// added or changed are set (every value), headers gone are removed. Names
// go out in lower case, as HTTP/2 and Envoy want them.
func headerDiff(before, after http.Header) *extprocv3.HeaderMutation {
	var mut extprocv3.HeaderMutation
	for name, values := range after {
		if slices.Equal(before[name], values) {
			continue
		}
		lower := strings.ToLower(name)
		for i, v := range values {
			action := corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
			if i == 0 {
				action = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
			}
			mut.SetHeaders = append(mut.SetHeaders, &corev3.HeaderValueOption{
				Header:       &corev3.HeaderValue{Key: lower, RawValue: []byte(v)},
				AppendAction: action,
			})
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			mut.RemoveHeaders = append(mut.RemoveHeaders, strings.ToLower(name))
		}
	}
	// Deterministic order for logs and tests.
	slices.SortFunc(mut.SetHeaders, func(a, b *corev3.HeaderValueOption) int { return strings.Compare(a.Header.Key, b.Header.Key) })
	slices.Sort(mut.RemoveHeaders)
	return &mut
}

// setHeader adds the overwrite of one header to mut.
func setHeader(mut *extprocv3.HeaderMutation, name, value string) {
	mut.SetHeaders = append(mut.SetHeaders, &corev3.HeaderValueOption{
		Header:       &corev3.HeaderValue{Key: name, RawValue: []byte(value)},
		AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	})
}

// status returns the :status of a response, 0 when it is missing or bad.
func (m message) status() int {
	n, err := strconv.Atoi(m.pseudo[":status"])
	if err != nil {
		return 0
	}
	return n
}
