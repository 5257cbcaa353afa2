package backendauth

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stretchr/testify/require"

	"github.com/aigw-dev/aigw/internal/backendauth/entratest"
	"github.com/aigw-dev/aigw/internal/backendauth/sigv4test"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
	"github.com/aigw-dev/aigw/internal/providertest"
)

func oidcClientOf(p *providertest.OIDCProvider, audience string) config.OIDCClient {
	return config.OIDCClient{Issuer: p.Issuer(), ClientID: p.ClientID, ClientSecret: config.Secret(p.ClientSecret), Audience: audience}
}

// TestAWSWebIdentity: the OIDC provider's token (its endpoint discovered
// from the issuer) is exchanged at STS (the SDK's endpoint, here from
// AWS_ENDPOINT_URL_STS) for the role's temporary credentials, which sign
// requests AWS verifies; a wrong client secret fails the attempt without
// the secret in the error.
func TestAWSWebIdentity(t *testing.T) {
	oidc := providertest.StartOIDCProvider(t)
	sts := providertest.StartAWSSTS(t, oidc, "arn:aws:iam::123456789012:role/bedrock", "sts.amazonaws.com")
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.Server.URL)
	a, err := New(&config.Auth{Policy: "default/aws", Type: config.AuthAWSCredentials, AWS: &config.AWSCredentials{Region: "eu-west-3",
		WebIdentity: &config.AWSWebIdentity{RoleARN: "arn:aws:iam::123456789012:role/bedrock", OIDC: oidcClientOf(oidc, "sts.amazonaws.com")}}}, Options{})
	require.NoError(t, err)
	body := []byte(`{"messages":[]}`)
	r := signedRequest(t, a, "/model/m/converse", body)
	id, secret, session := sts.Credentials(1)
	require.NoError(t, sigv4test.Verify(r, body, aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: session}, "bedrock", "eu-west-3"))
	again := signedRequest(t, a, "/model/m/converse", body)
	require.Equal(t, session, again.Header.Get("X-Amz-Security-Token"), "the credentials are cached until they near expiry")

	wrong := oidcClientOf(oidc, "sts.amazonaws.com")
	wrong.ClientSecret = "nope"
	b, err := New(&config.Auth{Policy: "default/aws", Type: config.AuthAWSCredentials, AWS: &config.AWSCredentials{Region: "eu-west-3",
		WebIdentity: &config.AWSWebIdentity{RoleARN: "arn:aws:iam::123456789012:role/bedrock", OIDC: wrong}}}, Options{})
	require.NoError(t, err)
	err = b.Authenticate(t.Context(), &llm.UpstreamRequest{Method: http.MethodPost, Host: "h", Path: "/", Header: http.Header{}})
	require.ErrorContains(t, err, "policy default/aws")
	require.NotContains(t, err.Error(), "nope")
}

// TestAzureFederated: the OIDC provider's token is Entra ID's client
// assertion for the application (workload identity federation).
func TestAzureFederated(t *testing.T) {
	oidc := providertest.StartOIDCProvider(t)
	entra := entratest.Start(t)
	entra.Assertion = func(a string) bool { return oidc.Issued(a, "api://AzureADTokenExchange") }
	a, err := New(&config.Auth{Policy: "default/azure", Type: config.AuthAzureCredentials, Azure: &config.AzureCredentials{
		TenantID: entra.Tenant, ClientID: entra.ClientID, AuthorityHost: entra.AuthorityHost(),
		Federated: &config.OIDCClient{Issuer: oidc.Issuer(), TokenEndpoint: oidc.Issuer() + "/oauth/token", ClientID: oidc.ClientID,
			ClientSecret: config.Secret(oidc.ClientSecret), Audience: "api://AzureADTokenExchange"}}}, Options{HTTPClient: entra.Client()})
	require.NoError(t, err)
	req := &llm.UpstreamRequest{Header: http.Header{}}
	require.NoError(t, a.Authenticate(t.Context(), req))
	require.Equal(t, "Bearer entra-token-1", req.Header.Get("Authorization"))
}

// TestGCPWorkloadIdentity: the OIDC provider's token is exchanged at
// Google's STS for the pool's provider, and the federated token
// impersonates the service account, whose token authorizes Vertex.
func TestGCPWorkloadIdentity(t *testing.T) {
	oidc := providertest.StartOIDCProvider(t)
	fed := providertest.StartGoogleFederation(t, oidc,
		"//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/gateways/providers/idp",
		"vertex-caller@my-project.iam.gserviceaccount.com")
	a, err := New(&config.Auth{Policy: "default/gcp", Type: config.AuthGCPCredentials, GCP: &config.GCPCredentials{
		ProjectName: "my-project", Region: "us-east5",
		WorkloadIdentity: &config.GCPWorkloadIdentity{ProjectNumber: "123456789", Pool: "gateways", Provider: "idp",
			ServiceAccount: "vertex-caller@my-project.iam.gserviceaccount.com", OIDC: oidcClientOf(oidc, "")}}}, Options{HTTPClient: fed.Client()})
	require.NoError(t, err)
	req := &llm.UpstreamRequest{Header: http.Header{}, Path: "/publishers/google/models/gemini-2.5-flash:generateContent"}
	require.NoError(t, a.Authenticate(t.Context(), req))
	require.True(t, fed.Impersonated(req.Header.Get("Authorization")), req.Header.Get("Authorization"))
	require.Equal(t, "/v1/projects/my-project/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent", req.Path)
}
