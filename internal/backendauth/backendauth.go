package backendauth

import (
	"errors"
	"fmt"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// ErrUnsupported is returned for an auth type this build cannot apply.
var ErrUnsupported = errors.New("unsupported auth type")

// New returns the handler for a backend's auth, or nil for none.
func New(a *config.Auth) (llm.Authenticator, error) {
	if a == nil {
		return nil, nil
	}
	switch a.Type {
	case config.AuthAPIKey, config.AuthAzureAPIKey, config.AuthAnthropicAPIKey:
		return newAPIKey(a)
	default:
		return nil, fmt.Errorf("policy %s: %w %q", a.Policy, ErrUnsupported, a.Type)
	}
}
