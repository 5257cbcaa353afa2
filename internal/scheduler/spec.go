package scheduler

import (
	"errors"
	"fmt"
	"time"

	"github.com/aigw-dev/aigw/internal/config"
	"github.com/aigw-dev/aigw/internal/flowcontrol"
)

// Spec returns cfg's picking settings as plain data, the form a compiled
// configuration carries (a control plane parses the EndpointPickerConfig
// with [ParsePickerConfig] and stores this); [FromSpec] turns it back into
// a Config. Filters and custom plugins have no plain form: an error.
func Spec(cfg Config) (*config.Scheduler, error) {
	if len(cfg.Profile.Filters) > 0 {
		return nil, errors.New("scheduler: filters have no configuration form")
	}
	out := &config.Scheduler{
		Fallbacks:        cfg.Profile.Fallbacks,
		QueueThreshold:   cfg.QueueThreshold,
		KVCacheThreshold: cfg.KVCacheThreshold,
		Staleness:        config.Duration(cfg.Staleness),
		Prefix: config.SchedulerPrefix{
			BlockSizeTokens: cfg.Prefix.BlockSizeTokens, MaxBlocks: cfg.Prefix.MaxBlocks, IndexCapacity: cfg.Prefix.IndexCapacity,
		},
	}
	for _, ws := range cfg.Profile.Scorers {
		t, ok := scorerType(ws.Scorer)
		if !ok {
			return nil, fmt.Errorf("scheduler: scorer %T has no plugin type", ws.Scorer)
		}
		out.Scorers = append(out.Scorers, config.WeightedScorer{Type: t, Weight: ws.Weight})
	}
	t, ok := pickerType(cfg.Profile.Picker)
	if !ok {
		return nil, fmt.Errorf("scheduler: picker %T has no plugin type", cfg.Profile.Picker)
	}
	out.Picker = t
	if fc := cfg.FlowControl; fc != nil {
		out.FlowControl = &config.FlowControl{
			MaxRequests: fc.MaxRequests, MaxBytes: fc.MaxBytes, DefaultTTL: config.Duration(fc.DefaultTTL),
			DefaultBand: flowBandSpec(fc.DefaultBand),
		}
		if len(fc.Bands) > 0 {
			out.FlowControl.Bands = make(map[int]config.FlowBand, len(fc.Bands))
			for prio, b := range fc.Bands {
				out.FlowControl.Bands[prio] = flowBandSpec(b)
			}
		}
	}
	return out, nil
}

func flowBandSpec(b flowcontrol.BandConfig) config.FlowBand {
	return config.FlowBand{MaxRequests: b.MaxRequests, MaxBytes: b.MaxBytes, Fairness: b.Fairness}
}

func flowBand(b config.FlowBand) flowcontrol.BandConfig {
	return flowcontrol.BandConfig{Limits: flowcontrol.Limits{MaxRequests: b.MaxRequests, MaxBytes: b.MaxBytes}, Fairness: b.Fairness}
}

// FromSpec builds the scheduler configuration from its plain form, over
// base (scrape interval and timeout, HTTP client); nil spec is base. The
// result is validated; each call makes its own plugin instances.
func FromSpec(spec *config.Scheduler, base Config) (Config, error) {
	cfg := base
	if spec == nil {
		return cfg, cfg.validate()
	}
	prof := Profile{Fallbacks: spec.Fallbacks}
	for i, ws := range spec.Scorers {
		if !isScorer(ws.Type) {
			return Config{}, fmt.Errorf("scheduler: scorers[%d]: %q is not a scorer", i, ws.Type)
		}
		prof.Scorers = append(prof.Scorers, WeightedScorer{Scorer: newScorer(ws.Type), Weight: ws.Weight})
	}
	if !isPicker(spec.Picker) {
		return Config{}, fmt.Errorf("scheduler: picker: %q is not a picker", spec.Picker)
	}
	prof.Picker = newPicker(spec.Picker)
	cfg.Profile = prof
	cfg.QueueThreshold, cfg.KVCacheThreshold = spec.QueueThreshold, spec.KVCacheThreshold
	cfg.Staleness = time.Duration(spec.Staleness)
	cfg.Prefix = PrefixConfig{BlockSizeTokens: spec.Prefix.BlockSizeTokens, MaxBlocks: spec.Prefix.MaxBlocks, IndexCapacity: spec.Prefix.IndexCapacity}
	cfg.FlowControl = nil
	if fc := spec.FlowControl; fc != nil {
		cfg.FlowControl = &flowcontrol.Config{
			Limits:      flowcontrol.Limits{MaxRequests: fc.MaxRequests, MaxBytes: fc.MaxBytes},
			DefaultTTL:  time.Duration(fc.DefaultTTL),
			DefaultBand: flowBand(fc.DefaultBand),
			Bands:       make(map[int]flowcontrol.BandConfig, len(fc.Bands)),
		}
		for prio, b := range fc.Bands {
			cfg.FlowControl.Bands[prio] = flowBand(b)
		}
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// scorerType is the plugin type of a built-in scorer.
func scorerType(s Scorer) (string, bool) {
	switch s.(type) {
	case QueueScorer:
		return PluginQueueScorer, true
	case KVCacheScorer:
		return PluginKVCacheScorer, true
	case PrefixScorer:
		return PluginPrefixScorer, true
	case LoRAAffinityScorer:
		return PluginLoRAAffinityScorer, true
	case RunningRequestsScorer:
		return PluginRunningRequestsScorer, true
	case LeastRequestScorer:
		return PluginLeastRequestScorer, true
	default:
		return "", false
	}
}

// pickerType is the plugin type of a built-in picker.
func pickerType(p Picker) (string, bool) {
	switch p.(type) {
	case *MaxScorePicker:
		return PluginMaxScorePicker, true
	case *RandomPicker:
		return PluginRandomPicker, true
	case *RoundRobinPicker:
		return PluginRoundRobinPicker, true
	default:
		return "", false
	}
}
