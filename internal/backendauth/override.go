package backendauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/aigw-dev/aigw/internal/apierror"
	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// override applies the credential a trusted filter set on the request —
// in an x-aigw-* header (taken out of the upstream's headers by the
// pipeline) or in dynamic metadata — in the policy type's way; without
// one, the policy's own credential serves, or the request is refused 401.
type override struct {
	policy     string
	typ        config.AuthType
	cfg        config.CredentialOverride
	configured llm.Authenticator
	// header is where an API key or bearer token goes; gcpPrefix the Vertex
	// path; signer the AWS signer.
	header, bearer string
	gcpPrefix      string
	signer         *sigV4
}

func newOverride(a *config.Auth, configured llm.Authenticator) (*override, error) {
	o := &override{policy: a.Policy, typ: a.Type, cfg: *a.Override, configured: configured}
	switch a.Type {
	case config.AuthAPIKey, config.AuthAzureCredentials:
		o.header, o.bearer = "Authorization", "Bearer "
	case config.AuthAzureAPIKey:
		o.header = "Api-Key"
	case config.AuthAnthropicAPIKey:
		o.header = "X-Api-Key"
	case config.AuthGCPCredentials:
		g, ok := configured.(*gcpAuth)
		if !ok {
			return nil, errors.New("GCPCredentials override without a project path")
		}
		o.header, o.bearer, o.gcpPrefix = "Authorization", "Bearer ", g.prefix
	case config.AuthAWSCredentials:
		s, ok := configured.(*sigV4)
		if !ok {
			return nil, errors.New("AWSCredentials override without a signer")
		}
		o.signer = &sigV4{policy: s.policy, region: s.region, signer: v4.NewSigner(), now: time.Now}
	default:
		return nil, fmt.Errorf("%w %q", ErrUnsupported, a.Type)
	}
	return o, nil
}

// errNoCredential is the 401 of a request without the credential its
// policy requires.
func (o *override) errNoCredential(why string) error {
	return &apierror.Error{Status: http.StatusUnauthorized, Type: apierror.TypeAuthentication, Code: "missing_credential",
		Message: "the request carries no credential for this backend: " + why}
}

// Authenticate implements [llm.Authenticator.Authenticate].
func (o *override) Authenticate(ctx context.Context, req *llm.UpstreamRequest) error {
	if o.typ == config.AuthAWSCredentials {
		creds, found, err := o.awsCredentials(ctx, req)
		switch {
		case err != nil:
			return err
		case found:
			return o.signer.sign(ctx, creds, req)
		}
	} else if v, found := o.value(ctx, req); found {
		req.Header.Set(o.header, o.bearer+v)
		req.Path = o.gcpPrefix + req.Path
		return nil
	}
	if !o.cfg.FallbackToConfigured {
		return o.errNoCredential(o.where())
	}
	return o.configured.Authenticate(ctx, req)
}

// where names where the credential was looked for.
func (o *override) where() string {
	if o.cfg.Header != "" {
		return "header " + o.cfg.Header
	}
	return "metadata " + o.cfg.MetadataNamespace + "/" + o.cfg.MetadataKey
}

// value is the request's credential, from its header or metadata.
func (o *override) value(ctx context.Context, req *llm.UpstreamRequest) (string, bool) {
	if o.cfg.Header != "" {
		v := strings.TrimSpace(req.Overrides.Get(o.cfg.Header))
		return v, v != ""
	}
	v, _ := llm.DynamicMetadataFrom(ctx)[o.cfg.MetadataNamespace][o.cfg.MetadataKey].(string)
	return v, v != ""
}

// awsCredentials are the request's AWS credentials: the three headers
// after the prefix, or the metadata's struct. A key ID without a secret
// (or the reverse) is an error, not a fallback.
func (o *override) awsCredentials(ctx context.Context, req *llm.UpstreamRequest) (aws.Credentials, bool, error) {
	var c aws.Credentials
	if p := o.cfg.Header; p != "" {
		c = aws.Credentials{AccessKeyID: req.Overrides.Get(p + "access-key-id"), SecretAccessKey: req.Overrides.Get(p + "secret-access-key"),
			SessionToken: req.Overrides.Get(p + "session-token")}
	} else if m, ok := llm.DynamicMetadataFrom(ctx)[o.cfg.MetadataNamespace][o.cfg.MetadataKey].(map[string]any); ok {
		str := func(k string) string { s, _ := m[k].(string); return s }
		c = aws.Credentials{AccessKeyID: str("accessKeyId"), SecretAccessKey: str("secretAccessKey"), SessionToken: str("sessionToken")}
	}
	switch {
	case c.AccessKeyID == "" && c.SecretAccessKey == "":
		return c, false, nil
	case c.AccessKeyID == "" || c.SecretAccessKey == "":
		return c, false, o.errNoCredential("an AWS access key ID needs its secret access key (and the reverse), in " + o.where())
	}
	return c, true, nil
}
