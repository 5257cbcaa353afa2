package backendauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/llm"
)

// apiKey sends a static key in the header its type prescribes: APIKey as
// "Authorization: Bearer", AzureAPIKey as "api-key", AnthropicAPIKey as
// "x-api-key". The client's credential headers are removed before it
// runs ([processor.NewAttempt]).
type apiKey struct {
	header string
	value  string
}

var _ llm.Authenticator = (*apiKey)(nil)

func newAPIKey(a *config.Auth) (*apiKey, error) {
	if a.APIKey == nil || a.APIKey.Key == "" {
		return nil, fmt.Errorf("policy %s: %s has no key", a.Policy, a.Type)
	}
	key := a.APIKey.Key.Reveal()
	switch a.Type {
	case config.AuthAPIKey:
		return &apiKey{header: "Authorization", value: "Bearer " + key}, nil
	case config.AuthAzureAPIKey:
		return &apiKey{header: "Api-Key", value: key}, nil
	case config.AuthAnthropicAPIKey:
		return &apiKey{header: "X-Api-Key", value: key}, nil
	default:
		return nil, errors.New("not an API key type")
	}
}

// Authenticate implements [llm.Authenticator.Authenticate].
func (k *apiKey) Authenticate(_ context.Context, req *llm.UpstreamRequest) error {
	req.Header.Set(k.header, k.value)
	return nil
}
