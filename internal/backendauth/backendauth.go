package backendauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// ErrUnsupported is returned for an auth type this build cannot apply.
var ErrUnsupported = errors.New("unsupported auth type")

// Options are what authenticators that fetch tokens need.
type Options struct {
	// Logger receives why a token refresh failed; nil discards.
	Logger *slog.Logger
	// HTTPClient, when set, sends the requests to token endpoints (tests
	// point it at a fake identity provider).
	HTTPClient *http.Client
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// New returns the handler for a backend's auth, or nil for none.
func New(a *config.Auth, opts Options) (llm.Authenticator, error) {
	if a == nil {
		return nil, nil
	}
	h, err := configured(a, opts)
	if err != nil || a.Override == nil {
		return h, err
	}
	o, err := newOverride(a, h)
	if err != nil {
		return nil, fmt.Errorf("policy %s: credentialOverride: %w", a.Policy, err)
	}
	return o, nil
}

// configured returns the handler of the policy's own credential.
func configured(a *config.Auth, opts Options) (llm.Authenticator, error) {
	switch a.Type {
	case config.AuthAPIKey, config.AuthAzureAPIKey, config.AuthAnthropicAPIKey:
		return newAPIKey(a)
	case config.AuthAzureCredentials:
		return newAzureCredentials(a, opts)
	case config.AuthAWSCredentials:
		return newAWSCredentials(a, opts)
	case config.AuthGCPCredentials:
		return newGCPCredentials(a, opts)
	default:
		return nil, fmt.Errorf("policy %s: %w %q", a.Policy, ErrUnsupported, a.Type)
	}
}
