package backendauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// awsService is the SigV4 service name of Amazon Bedrock's runtime.
const awsService = "bedrock"

// awsLoadTimeout bounds loading the AWS configuration (files only: no
// credential is fetched then).
const awsLoadTimeout = 10 * time.Second

// sigV4 signs each request with AWS Signature Version 4 over its final
// body and authority. Credentials come from the AWS SDK's providers,
// cached and refreshed in the background when they expire.
//
// Only the headers that carry meaning for AWS are signed (host,
// content-type and the x-amz-* ones the signer adds), as the AWS SDKs
// do: the client's other headers may be changed by proxies on the way
// without breaking the signature.
type sigV4 struct {
	policy string
	region string
	signer *v4.Signer
	creds  refresher[aws.Credentials]
	now    func() time.Time
}

var _ llm.Authenticator = (*sigV4)(nil)

func newAWSCredentials(a *config.Auth, opts Options) (*sigV4, error) {
	aw := a.AWS
	if aw == nil || aw.Region == "" {
		return nil, fmt.Errorf("policy %s: AWSCredentials needs a region", a.Policy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), awsLoadTimeout)
	defer cancel()
	provider, err := awsProvider(ctx, a.Policy, aw, opts)
	if err != nil {
		return nil, fmt.Errorf("policy %s: AWSCredentials: %w", a.Policy, err)
	}
	s := &sigV4{policy: a.Policy, region: aw.Region, signer: v4.NewSigner(), now: time.Now}
	s.creds = refresher[aws.Credentials]{policy: a.Policy, what: "AWS credentials", logger: opts.logger(), now: time.Now,
		fetch: func(ctx context.Context) (aws.Credentials, time.Time, error) {
			// The SDK's own cache would hand back the credentials being
			// replaced: forget them first (fetches are serialized).
			if c, ok := provider.(*aws.CredentialsCache); ok {
				c.Invalidate()
			}
			c, err := provider.Retrieve(ctx)
			if err != nil {
				return aws.Credentials{}, time.Time{}, fmt.Errorf("policy %s: getting AWS credentials: %w", a.Policy, err)
			}
			if !c.CanExpire {
				return c, time.Time{}, nil
			}
			return c, c.Expires, nil
		}}
	return s, nil
}

// awsProvider returns the credentials provider of a policy: a role assumed
// with an OIDC token, the profile of its credentials file, or the SDK's
// default chain.
func awsProvider(ctx context.Context, policy string, aw *config.AWSCredentials, opts Options) (aws.CredentialsProvider, error) {
	lo := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(aw.Region)}
	if opts.HTTPClient != nil {
		lo = append(lo, awsconfig.WithHTTPClient(opts.HTTPClient))
	}
	if wi := aw.WebIdentity; wi != nil {
		// STS with the provider's token; the STS endpoint is the SDK's
		// (AWS_ENDPOINT_URL_STS and the like apply).
		lo = append(lo, awsconfig.WithSharedConfigFiles([]string{}), awsconfig.WithSharedCredentialsFiles([]string{}))
		cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
		if err != nil {
			return nil, err
		}
		retriever := webIdentity{newOIDCClient(policy, wi.OIDC, opts)}
		p := stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(cfg), wi.RoleARN, retriever, func(o *stscreds.WebIdentityRoleOptions) {
			o.RoleSessionName = "aigw"
		})
		return aws.NewCredentialsCache(p), nil
	}
	if aw.CredentialsFile != "" {
		// The SDK reads shared credentials from files only: the file lives
		// for the load, readable by this user alone.
		path, err := writePrivateFile(aw.CredentialsFile.Reveal())
		if err != nil {
			return nil, err
		}
		defer os.Remove(path)
		profile := aw.Profile
		if profile == "" {
			profile = "default"
		}
		lo = append(lo, awsconfig.WithSharedCredentialsFiles([]string{path}),
			awsconfig.WithSharedConfigFiles([]string{}), // nothing from the host's ~/.aws
			awsconfig.WithSharedConfigProfile(profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		var missing awsconfig.SharedConfigProfileNotExistError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("the credentials file has no profile %q", missing.Profile)
		}
		return nil, err
	}
	if cfg.Credentials == nil {
		return nil, errors.New("no AWS credentials provider")
	}
	return cfg.Credentials, nil
}

// webIdentity hands STS the OIDC provider's token.
type webIdentity struct{ oidc *oidcClient }

// GetIdentityToken implements [stscreds.IdentityTokenRetriever].
func (w webIdentity) GetIdentityToken() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	tok, err := w.oidc.token(ctx)
	return []byte(tok), err
}

// writePrivateFile writes content to a new file only this user can read.
func writePrivateFile(content string) (string, error) {
	f, err := os.CreateTemp("", "aigw-aws-credentials-*")
	if err != nil {
		return "", fmt.Errorf("writing the credentials file for the AWS SDK: %w", err)
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("writing the credentials file for the AWS SDK: %w", err)
	}
	return f.Name(), nil
}

// Authenticate implements [llm.Authenticator.Authenticate].
func (s *sigV4) Authenticate(ctx context.Context, req *llm.UpstreamRequest) error {
	creds, err := s.creds.get(ctx)
	if err != nil {
		return err
	}
	return s.sign(ctx, creds, req)
}

// sign signs req with creds.
func (s *sigV4) sign(ctx context.Context, creds aws.Credentials, req *llm.UpstreamRequest) error {
	if req.Host == "" {
		return errors.New("SigV4: the request has no host to sign")
	}
	u, err := url.Parse("https://" + req.Host + req.Path)
	if err != nil {
		return fmt.Errorf("SigV4: the upstream path: %w", err)
	}
	signed := &http.Request{Method: req.Method, URL: u, Host: req.Host, Header: http.Header{}}
	if ct := req.Header.Get("Content-Type"); ct != "" {
		signed.Header.Set("Content-Type", ct)
	}
	sum := sha256.Sum256(req.Body)
	if err := s.signer.SignHTTP(ctx, creds, signed, hex.EncodeToString(sum[:]), awsService, s.region, s.now()); err != nil {
		return fmt.Errorf("SigV4: %w", err)
	}
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := signed.Header.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	return nil
}
