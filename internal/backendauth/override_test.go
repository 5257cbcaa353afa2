package backendauth

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/backendauth/sigv4test"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// TestCredentialOverride: a request's own credential, from its x-aigw-*
// header or from dynamic metadata, replaces the policy's, in the policy
// type's way; without one the policy's serves, or 401 when it must not.
func TestCredentialOverride(t *testing.T) {
	apiKey := func(o config.CredentialOverride) llm.Authenticator {
		a, err := New(&config.Auth{Policy: "default/p", Type: config.AuthAnthropicAPIKey, APIKey: &config.APIKeyAuth{Key: "sk-configured"}, Override: &o}, Options{})
		require.NoError(t, err)
		return a
	}
	auth := func(a llm.Authenticator, ctx context.Context, overrides http.Header) (string, error) {
		req := &llm.UpstreamRequest{Header: http.Header{}, Overrides: overrides}
		err := a.Authenticate(ctx, req)
		return req.Header.Get("X-Api-Key"), err
	}
	fromHeader := apiKey(config.CredentialOverride{Header: "x-aigw-anthropic-api-key", FallbackToConfigured: true})
	key, err := auth(fromHeader, t.Context(), http.Header{"X-Aigw-Anthropic-Api-Key": {"sk-tenant"}})
	require.NoError(t, err)
	require.Equal(t, "sk-tenant", key)
	key, err = auth(fromHeader, t.Context(), nil)
	require.NoError(t, err)
	require.Equal(t, "sk-configured", key, "the policy's own key when the request brings none")

	strict := apiKey(config.CredentialOverride{MetadataNamespace: "envoy.filters.http.ext_authz", MetadataKey: "x-aigw-anthropic-api-key"})
	ctx := llm.WithDynamicMetadata(t.Context(), llm.DynamicMetadata{"envoy.filters.http.ext_authz": {"x-aigw-anthropic-api-key": "sk-from-authz"}})
	key, err = auth(strict, ctx, nil)
	require.NoError(t, err)
	require.Equal(t, "sk-from-authz", key)
	_, err = auth(strict, t.Context(), http.Header{"X-Aigw-Anthropic-Api-Key": {"sk-tenant"}})
	var e *apierror.Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.Equal(t, http.StatusUnauthorized, e.Status)
	require.NotContains(t, e.Message, "sk-")
}

// TestCredentialOverrideAWS: per-request AWS credentials from the three
// headers after the prefix sign the request; a key ID without its secret
// is refused, not replaced by the policy's.
func TestCredentialOverrideAWS(t *testing.T) {
	a, err := New(&config.Auth{Policy: "default/aws", Type: config.AuthAWSCredentials, AWS: &config.AWSCredentials{Region: "eu-west-3", CredentialsFile: testCredentialsFile},
		Override: &config.CredentialOverride{Header: "x-aigw-aws-", FallbackToConfigured: true}}, Options{})
	require.NoError(t, err)
	body := []byte(`{}`)
	up := &llm.UpstreamRequest{Method: http.MethodPost, Host: "bedrock-runtime.eu-west-3.amazonaws.com", Path: "/model/m/converse",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: body,
		Overrides: http.Header{"X-Aigw-Aws-Access-Key-Id": {"AKIDTENANT"}, "X-Aigw-Aws-Secret-Access-Key": {"tenant-secret"}, "X-Aigw-Aws-Session-Token": {"tenant-session"}}}
	require.NoError(t, a.Authenticate(t.Context(), up))
	r, err := http.NewRequest(up.Method, "https://"+up.Host+up.Path, nil)
	require.NoError(t, err)
	r.Header = up.Header
	require.NoError(t, sigv4test.Verify(r, body, aws.Credentials{AccessKeyID: "AKIDTENANT", SecretAccessKey: "tenant-secret", SessionToken: "tenant-session"}, "bedrock", "eu-west-3"))

	half := &llm.UpstreamRequest{Method: http.MethodPost, Host: "h", Path: "/", Header: http.Header{}, Overrides: http.Header{"X-Aigw-Aws-Access-Key-Id": {"AKIDTENANT"}}}
	err = a.Authenticate(t.Context(), half)
	var e *apierror.Error
	require.True(t, errors.As(err, &e), "%v", err)
	require.Equal(t, http.StatusUnauthorized, e.Status)
}
