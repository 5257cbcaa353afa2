package clientauth

import (
	"crypto/sha1" //nolint:gosec // htpasswd {SHA}
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
)

func shaHash(password string) config.Secret {
	sum := sha1.Sum([]byte(password)) //nolint:gosec // htpasswd {SHA}
	return config.Secret("{SHA}" + base64.StdEncoding.EncodeToString(sum[:]))
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// TestCheck: API keys (in a header, or as a bearer token) name their
// client, forwarded in place of a client's own copy and the key removed
// when sanitized; basic credentials name their user; the first matching
// authorization rule decides, else the default; failures are 401 (with a
// challenge for basic auth) or 403, and never quote a credential.
func TestCheck(t *testing.T) {
	keys := &config.ClientAuth{Policy: "default/keys", APIKey: &config.APIKeyAuthentication{
		Clients: []config.APIKeyClient{{ID: "team-a", Key: "key-a"}, {ID: "team-b", Key: "key-b"}},
		Headers: []string{"x-api-key", "Authorization"}, ForwardClientIDHeader: "x-client-id", Sanitize: true,
	}}
	users := &config.ClientAuth{Policy: "default/users", Basic: &config.BasicAuthentication{
		Users: []config.BasicUser{{Name: "alice", Hash: shaHash("wonderland")}}, ForwardUsernameHeader: "x-user"}}
	office := netip.MustParseAddr("10.1.2.3")
	authz := &config.ClientAuth{Policy: "default/authz", APIKey: keys.APIKey, Authorization: &config.Authorization{
		DefaultAction: config.AuthorizationDeny,
		Rules: []config.AuthorizationRule{
			{Name: "block-b", Action: config.AuthorizationDeny, Headers: []config.HeaderValues{{Name: "x-client-id", Values: []string{"team-b"}}}},
			{Name: "office", Action: config.AuthorizationAllow, ClientCIDRs: []string{"10.0.0.0/8"}},
		},
	}}
	tests := []struct {
		name       string
		auth       *config.ClientAuth
		header     http.Header
		remote     netip.Addr
		wantID     string
		wantStatus int
		wantHeader http.Header
	}{
		{"key header", keys, http.Header{"X-Api-Key": {"key-a"}, "X-Client-Id": {"forged"}}, office, "team-a", 0,
			http.Header{"X-Client-Id": {"team-a"}}},
		{"bearer key", keys, http.Header{"Authorization": {"Bearer key-b"}}, office, "team-b", 0, http.Header{"X-Client-Id": {"team-b"}}},
		{"wrong key", keys, http.Header{"X-Api-Key": {"key-c"}}, office, "", 401, nil},
		{"no key", keys, http.Header{}, office, "", 401, nil},
		{"basic", users, http.Header{"Authorization": {basic("alice", "wonderland")}}, office, "alice", 0,
			http.Header{"Authorization": {basic("alice", "wonderland")}, "X-User": {"alice"}}},
		{"basic wrong password", users, http.Header{"Authorization": {basic("alice", "nope")}}, office, "", 401, nil},
		{"basic unknown user", users, http.Header{"Authorization": {basic("bob", "wonderland")}}, office, "", 401, nil},
		{"allowed from the office", authz, http.Header{"X-Api-Key": {"key-a"}}, office, "team-a", 0, http.Header{"X-Client-Id": {"team-a"}}},
		{"denied client", authz, http.Header{"X-Api-Key": {"key-b"}}, office, "", 403, nil},
		{"denied elsewhere", authz, http.Header{"X-Api-Key": {"key-a"}}, netip.MustParseAddr("192.0.2.7"), "", 403, nil},
		{"denied without address", authz, http.Header{"X-Api-Key": {"key-a"}}, netip.Addr{}, "", 403, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.auth, Options{})
			require.NoError(t, err)
			id, err := c.Check(&Request{Header: tc.header, RemoteAddr: tc.remote})
			if tc.wantStatus != 0 {
				var e *apierror.Error
				require.True(t, errors.As(err, &e), "%v", err)
				require.Equal(t, tc.wantStatus, e.Status)
				for _, secret := range []string{"key-", "wonderland", "nope"} {
					require.NotContains(t, e.Message, secret)
				}
				if tc.auth == users {
					require.Equal(t, `Basic realm="aigw"`, e.Challenge)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantID, id)
			require.Equal(t, tc.wantHeader, tc.header)
		})
	}
}

// TestNewRefuses: what cannot be checked fails the load.
func TestNewRefuses(t *testing.T) {
	_, err := New(&config.ClientAuth{Policy: "p", Basic: &config.BasicAuthentication{Users: []config.BasicUser{{Name: "a", Hash: "$2y$05$bcrypt"}}}}, Options{})
	require.ErrorContains(t, err, "only {SHA}")
	_, err = New(&config.ClientAuth{Policy: "p", Authorization: &config.Authorization{Rules: []config.AuthorizationRule{{ClientCIDRs: []string{"10/8"}}}}}, Options{})
	require.ErrorContains(t, err, "clientCIDRs")
	_, err = New(&config.ClientAuth{Policy: "p", APIKey: &config.APIKeyAuthentication{Clients: []config.APIKeyClient{{ID: "a", Key: "k"}}}}, Options{})
	require.ErrorContains(t, err, "no header")
}
