package backendauth

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/backendauth/sigv4test"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

const testCredentialsFile = `[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = default-secret

[bedrock]
aws_access_key_id = AKIDBEDROCK
aws_secret_access_key = bedrock-secret
aws_session_token = bedrock-session
`

func awsAuth(file, profile string) *config.Auth {
	return &config.Auth{Policy: "default/aws", Type: config.AuthAWSCredentials,
		AWS: &config.AWSCredentials{Region: "eu-west-3", CredentialsFile: config.Secret(file), Profile: profile}}
}

// signedRequest signs a Converse request as an attempt would, and returns
// it as the upstream receives it.
func signedRequest(t *testing.T, a llm.Authenticator, path string, body []byte) *http.Request {
	t.Helper()
	up := &llm.UpstreamRequest{Method: http.MethodPost, Host: "bedrock-runtime.eu-west-3.amazonaws.com", Path: path,
		Header: http.Header{"Content-Type": {"application/json"}, "X-Stainless-Lang": {"go"}}, Body: body}
	require.NoError(t, a.Authenticate(t.Context(), up))
	r := httptest.NewRequest(up.Method, "https://"+up.Host+up.Path, bytes.NewReader(up.Body))
	r.Header = up.Header
	return r
}

// TestAWSCredentialsFile: a profile of the policy's credentials file signs
// requests that AWS's own verification accepts, over the final body and
// an escaped model path; another body, key or region fails it.
func TestAWSCredentialsFile(t *testing.T) {
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	path := "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
	for _, tc := range []struct {
		profile string
		creds   aws.Credentials
	}{
		{"", aws.Credentials{AccessKeyID: "AKIDDEFAULT", SecretAccessKey: "default-secret"}},
		{"bedrock", aws.Credentials{AccessKeyID: "AKIDBEDROCK", SecretAccessKey: "bedrock-secret", SessionToken: "bedrock-session"}},
	} {
		t.Run("profile="+tc.profile, func(t *testing.T) {
			a, err := New(awsAuth(testCredentialsFile, tc.profile), Options{})
			require.NoError(t, err)
			r := signedRequest(t, a, path, body)
			require.NoError(t, sigv4test.Verify(r, body, tc.creds, "bedrock", "eu-west-3"))
			require.Equal(t, "go", r.Header.Get("X-Stainless-Lang"), "the client's headers stay")

			require.Error(t, sigv4test.Verify(r, []byte(`{"messages":[]}`), tc.creds, "bedrock", "eu-west-3"), "another body")
			require.Error(t, sigv4test.Verify(r, body, tc.creds, "bedrock", "us-east-1"), "another region")
			wrong := tc.creds
			wrong.SecretAccessKey = "other"
			require.Error(t, sigv4test.Verify(r, body, wrong, "bedrock", "eu-west-3"), "another key")
		})
	}
}

// TestAWSDefaultChain: without a file the SDK's default chain finds the
// credentials (here the environment's).
func TestAWSDefaultChain(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	a, err := New(awsAuth("", ""), Options{})
	require.NoError(t, err)
	body := []byte(`{}`)
	r := signedRequest(t, a, "/model/amazon.titan-embed-text-v2%3A0/invoke", body)
	require.NoError(t, sigv4test.Verify(r, body, aws.Credentials{AccessKeyID: "AKIDENV", SecretAccessKey: "env-secret"}, "bedrock", "eu-west-3"))
}

// TestAWSCredentialsErrors: a missing profile is refused when the policy
// loads; no error carries a secret.
func TestAWSCredentialsErrors(t *testing.T) {
	_, err := New(awsAuth(testCredentialsFile, "nope"), Options{})
	require.ErrorContains(t, err, `policy default/aws`)
	require.ErrorContains(t, err, `no profile "nope"`)
	require.NotContains(t, err.Error(), "secret")

	_, err = New(&config.Auth{Policy: "default/aws", Type: config.AuthAWSCredentials, AWS: &config.AWSCredentials{}}, Options{})
	require.ErrorContains(t, err, "needs a region")
}
