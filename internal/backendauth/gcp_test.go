package backendauth

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/providertest"
)

func gcpPolicy(file []byte) *config.Auth {
	return &config.Auth{Policy: "default/gcp", Type: config.AuthGCPCredentials,
		GCP: &config.GCPCredentials{ProjectName: "test-project", Region: "europe-west4", CredentialsFile: config.Secret(file)}}
}

// TestGCPServiceAccount: the Google library signs a JWT with the service
// account's key, which the fake token endpoint verifies; requests carry
// the minted token, fetched once, and move under the project's and
// region's path.
func TestGCPServiceAccount(t *testing.T) {
	tokens := providertest.StartGoogleTokens(t)
	a, err := New(gcpPolicy(tokens.ServiceAccountJSON()), Options{})
	require.NoError(t, err)
	for range 3 {
		req := &llm.UpstreamRequest{Header: http.Header{}, Path: "/publishers/google/models/gemini-2.5-flash:generateContent"}
		require.NoError(t, a.Authenticate(t.Context(), req))
		require.True(t, tokens.Valid(req.Header.Get("Authorization")), req.Header.Get("Authorization"))
		require.Equal(t, "/v1/projects/test-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent", req.Path)
	}
	require.Equal(t, 1, tokens.Minted(), "the token is cached")
}

// TestGCPCredentialsErrors: a broken credentials file fails the load; a
// key the token endpoint rejects fails the attempt, naming the policy and
// the endpoint's answer, never the key.
func TestGCPCredentialsErrors(t *testing.T) {
	_, err := New(gcpPolicy([]byte(`{"type":"service_account"}`)), Options{})
	require.ErrorContains(t, err, "policy default/gcp")

	tokens := providertest.StartGoogleTokens(t)
	other := providertest.StartGoogleTokens(t)
	// other's key, tokens' endpoint: the signature does not verify.
	file := []byte(strings.Replace(string(other.ServiceAccountJSON()), other.Server.URL, tokens.Server.URL, 1))
	a, err := New(gcpPolicy(file), Options{})
	require.NoError(t, err)
	err = a.Authenticate(t.Context(), &llm.UpstreamRequest{Header: http.Header{}})
	require.ErrorContains(t, err, "policy default/gcp")
	require.ErrorContains(t, err, "400 invalid_grant")
	require.NotContains(t, err.Error(), "PRIVATE KEY")
}
