package scheduler

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aigw-dev/aigw/internal/flowcontrol"
)

// Config configures a [Scheduler]. Start from [DefaultConfig].
type Config struct {
	// Profile is the scheduling profile.
	Profile Profile
	// ScrapeInterval is how often each endpoint's metrics are scraped
	// (reference: 50 ms).
	ScrapeInterval time.Duration
	// ScrapeTimeout bounds one scrape, connection included.
	ScrapeTimeout time.Duration
	// Staleness is the age after which scraped metrics count as unknown
	// (reference --metrics-staleness-threshold: 2 s).
	Staleness time.Duration
	// QueueThreshold is the waiting-queue depth at which an endpoint is
	// saturated (reference queueDepthThreshold: 5).
	QueueThreshold int
	// KVCacheThreshold is the KV-cache utilisation at which an endpoint is
	// saturated (reference kvCacheUtilThreshold: 0.8).
	KVCacheThreshold float64
	// Prefix configures prefix hashing and the prefix index.
	Prefix PrefixConfig
	// FlowControl, when set, holds requests in [Scheduler.Admit] while
	// every endpoint is saturated (GAIE's flowControl feature gate).
	FlowControl *flowcontrol.Config
	// HTTPClient scrapes the metrics; nil means a client with short
	// timeouts built from ScrapeTimeout.
	HTTPClient *http.Client
}

// PrefixConfig configures the approximate prefix cache (§6.4).
type PrefixConfig struct {
	// BlockSizeTokens is the block size in tokens; a block is
	// 4 × BlockSizeTokens characters of the prompt (reference: 16 → 64).
	BlockSizeTokens int
	// MaxBlocks truncates the prompt to this many blocks (reference: 256).
	MaxBlocks int
	// IndexCapacity is how many block hashes the index remembers per
	// endpoint, least recently routed evicted first (reference
	// lruCapacityPerServer: 31 250).
	IndexCapacity int
}

// DefaultConfig returns the reference EPP's defaults: [DefaultProfile],
// 50 ms scrapes with a 1 s timeout, 2 s staleness, saturation at a queue of
// 5 or a KV cache of 0.8, and 16-token (64-character) prefix blocks, at most
// 256 per prompt, 31 250 per endpoint in the index.
func DefaultConfig() Config {
	return Config{
		Profile:          DefaultProfile(),
		ScrapeInterval:   50 * time.Millisecond,
		ScrapeTimeout:    time.Second,
		Staleness:        2 * time.Second,
		QueueThreshold:   5,
		KVCacheThreshold: 0.8,
		Prefix: PrefixConfig{
			BlockSizeTokens: 16,
			MaxBlocks:       256,
			IndexCapacity:   31250,
		},
	}
}

// charsPerToken is the reference's approximation (§6.4).
const charsPerToken = 4

func (c *Config) validate() error {
	var errs []error
	if c.ScrapeInterval <= 0 {
		errs = append(errs, fmt.Errorf("ScrapeInterval %v must be positive", c.ScrapeInterval))
	}
	if c.ScrapeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ScrapeTimeout %v must be positive", c.ScrapeTimeout))
	}
	if c.Staleness <= 0 {
		errs = append(errs, fmt.Errorf("Staleness %v must be positive", c.Staleness))
	}
	if c.QueueThreshold <= 0 {
		errs = append(errs, fmt.Errorf("QueueThreshold %d must be positive", c.QueueThreshold))
	}
	if c.KVCacheThreshold <= 0 || c.KVCacheThreshold > 1 {
		errs = append(errs, fmt.Errorf("KVCacheThreshold %v must be in (0,1]", c.KVCacheThreshold))
	}
	if c.Prefix.BlockSizeTokens <= 0 || c.Prefix.MaxBlocks <= 0 || c.Prefix.IndexCapacity <= 0 {
		errs = append(errs, fmt.Errorf("Prefix %+v: all fields must be positive", c.Prefix))
	}
	if c.Profile.Fallbacks < 0 {
		errs = append(errs, fmt.Errorf("Profile.Fallbacks %d must not be negative", c.Profile.Fallbacks))
	}
	for i, f := range c.Profile.Filters {
		if f == nil {
			errs = append(errs, fmt.Errorf("Profile.Filters[%d] is nil", i))
		}
	}
	if len(c.Profile.Scorers) == 0 {
		errs = append(errs, errors.New("Profile.Scorers is empty"))
	}
	for i, ws := range c.Profile.Scorers {
		if ws.Scorer == nil {
			errs = append(errs, fmt.Errorf("Profile.Scorers[%d] is nil", i))
		}
		if ws.Weight < 0 {
			errs = append(errs, fmt.Errorf("Profile.Scorers[%d].Weight %v must not be negative", i, ws.Weight))
		}
	}
	if c.FlowControl != nil {
		if err := c.FlowControl.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scheduler: invalid config: %w", err)
	}
	return nil
}
