package scheduler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/aigw-dev/aigw/internal/flowcontrol"
)

// PickerConfigAPIVersion and PickerConfigKind identify GAIE's
// EndpointPickerConfig (apix/config/v1alpha1), the file format
// [ParsePickerConfig] reads.
const (
	PickerConfigAPIVersion = "inference.networking.x-k8s.io/v1alpha1"
	PickerConfigKind       = "EndpointPickerConfig"
)

// Plugin types [ParsePickerConfig] understands: GAIE v1.5.0's names, plus
// least-request-scorer and round-robin-picker of our own.
const (
	PluginQueueScorer           = "queue-scorer"
	PluginKVCacheScorer         = "kv-cache-utilization-scorer"
	PluginPrefixScorer          = "prefix-cache-scorer"
	PluginLoRAAffinityScorer    = "lora-affinity-scorer"
	PluginRunningRequestsScorer = "running-requests-size-scorer"
	PluginLeastRequestScorer    = "least-request-scorer"
	PluginMaxScorePicker        = "max-score-picker"
	PluginRandomPicker          = "random-picker"
	PluginRoundRobinPicker      = "round-robin-picker"
	PluginUtilizationDetector   = "utilization-detector"
	PluginPrefixProducer        = "approx-prefix-cache-producer"
	// Flow-control policies (with featureGates: [flowControl]).
	PluginGlobalStrictFairness = flowcontrol.GlobalStrict
	PluginRoundRobinFairness   = flowcontrol.RoundRobin
	PluginFCFSOrdering         = "fcfs-ordering-policy"
	PluginStaticUsageLimit     = "static-usage-limit-policy"
)

// FeatureFlowControl is the feature gate that turns flow control on, as in
// GAIE.
const FeatureFlowControl = "flowControl"

// acceptedPlugins are GAIE plugin types whose job the scheduler does
// built-in (parsing, scraping, profile handling): accepted so that GAIE
// configurations load, without parameters that change anything.
var acceptedPlugins = []string{
	"single-profile-handler", "openai-parser", "metrics-data-source", "core-metrics-extractor",
}

// pickerConfigFile mirrors GAIE's EndpointPickerConfig (v1.5.0), the fields
// the scheduler reads; unknown fields are errors.
type pickerConfigFile struct {
	APIVersion         string           `json:"apiVersion"`
	Kind               string           `json:"kind"`
	FeatureGates       []string         `json:"featureGates,omitempty"`
	Plugins            []pluginSpec     `json:"plugins"`
	SchedulingProfiles []schedulingSpec `json:"schedulingProfiles"`
	SaturationDetector *pluginRefSpec   `json:"saturationDetector,omitempty"`
	Parser             *pluginRefSpec   `json:"parser,omitempty"`
	DataLayer          json.RawMessage  `json:"dataLayer,omitempty"`
	FlowControl        json.RawMessage  `json:"flowControl,omitempty"`
}

// flowControlSpec is GAIE's FlowControlConfig.
type flowControlSpec struct {
	MaxBytes                  *resource.Quantity `json:"maxBytes,omitempty"`
	MaxRequests               *resource.Quantity `json:"maxRequests,omitempty"`
	DefaultRequestTTL         *metav1.Duration   `json:"defaultRequestTTL,omitempty"`
	DefaultPriorityBand       *priorityBandSpec  `json:"defaultPriorityBand,omitempty"`
	PriorityBands             []priorityBandSpec `json:"priorityBands,omitempty"`
	UsageLimitPolicyPluginRef string             `json:"usageLimitPolicyPluginRef,omitempty"`
}

// priorityBandSpec is GAIE's PriorityBandConfig.
type priorityBandSpec struct {
	Priority          int                `json:"priority"`
	MaxBytes          *resource.Quantity `json:"maxBytes,omitempty"`
	MaxRequests       *resource.Quantity `json:"maxRequests,omitempty"`
	FairnessPolicyRef string             `json:"fairnessPolicyRef,omitempty"`
	OrderingPolicyRef string             `json:"orderingPolicyRef,omitempty"`
}

type pluginSpec struct {
	Name       string          `json:"name,omitempty"`
	Type       string          `json:"type"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

type schedulingSpec struct {
	Name    string          `json:"name"`
	Plugins []profilePlugin `json:"plugins"`
}

type profilePlugin struct {
	PluginRef string   `json:"pluginRef"`
	Weight    *float64 `json:"weight,omitempty"`
}

type pluginRefSpec struct {
	PluginRef string `json:"pluginRef,omitempty"`
}

// prefixParams are the prefix plugins' parameters (GAIE's
// approximateprefix config).
type prefixParams struct {
	AutoTune               *bool `json:"autoTune,omitempty"`
	BlockSizeTokens        int   `json:"blockSizeTokens,omitempty"`
	BlockSize              int   `json:"blockSize,omitempty"` // deprecated: characters
	MaxPrefixBlocksToMatch int   `json:"maxPrefixBlocksToMatch,omitempty"`
	MaxPrefixTokensToMatch int   `json:"maxPrefixTokensToMatch,omitempty"`
	LRUCapacityPerServer   int   `json:"lruCapacityPerServer,omitempty"`
}

type pickerParams struct {
	MaxNumOfEndpoints int `json:"maxNumOfEndpoints,omitempty"`
}

type utilizationParams struct {
	QueueDepthThreshold       *int     `json:"queueDepthThreshold,omitempty"`
	KVCacheUtilThreshold      *float64 `json:"kvCacheUtilThreshold,omitempty"`
	MetricsStalenessThreshold string   `json:"metricsStalenessThreshold,omitempty"`
	Headroom                  *float64 `json:"headroom,omitempty"`
}

// ParsePickerConfig reads a GAIE EndpointPickerConfig (YAML or JSON) into a
// [Config] based on base (usually [DefaultConfig] with the caller's scrape
// settings). It supports one scheduling profile (GAIE's
// single-profile-handler); its scorers with their weights (a scorer listed
// without a weight gets 1, as in GAIE; weight 0 disables it) and its picker
// (max-score-picker when none is listed; maxNumOfEndpoints − 1 fallbacks).
// Prefix parameters are read from prefix-cache-scorer or
// approx-prefix-cache-producer; utilization-detector parameters set the
// saturation thresholds and staleness. Plugins whose job is built in
// (parser, data source, metrics extractor, profile handler) are accepted.
//
// Errors name the offending field (e.g. `plugins[2].type`) and are all
// reported together; warnings list what is accepted but has no effect.
func ParsePickerConfig(data []byte, base Config) (cfg Config, warnings []string, err error) {
	var f pickerConfigFile
	jsonData, err := yaml.YAMLToJSON(data)
	if err != nil {
		return Config{}, nil, fmt.Errorf("scheduler: EndpointPickerConfig: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(jsonData))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Config{}, nil, fmt.Errorf("scheduler: EndpointPickerConfig: %w", err)
	}
	p := configParser{cfg: base, byName: map[string]int{}}
	p.parse(&f)
	if err := errors.Join(p.errs...); err != nil {
		return Config{}, nil, fmt.Errorf("scheduler: EndpointPickerConfig: %w", err)
	}
	if err := p.cfg.validate(); err != nil {
		return Config{}, nil, err
	}
	return p.cfg, p.warnings, nil
}

type configParser struct {
	cfg      Config
	specs    []pluginSpec
	byName   map[string]int // plugin name → index in specs
	errs     []error
	warnings []string
}

func (p *configParser) errorf(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *configParser) parse(f *pickerConfigFile) {
	if f.APIVersion != "" && f.APIVersion != PickerConfigAPIVersion {
		p.errorf("apiVersion: %q is not %q", f.APIVersion, PickerConfigAPIVersion)
	}
	if f.Kind != "" && f.Kind != PickerConfigKind {
		p.errorf("kind: %q is not %q", f.Kind, PickerConfigKind)
	}
	for _, g := range f.FeatureGates {
		if g != FeatureFlowControl {
			p.warnings = append(p.warnings, fmt.Sprintf("featureGates: %q has no effect here", g))
		}
	}
	p.specs = f.Plugins
	for i, s := range f.Plugins {
		name := s.Name
		if name == "" {
			name = s.Type
		}
		if _, dup := p.byName[name]; dup {
			p.errorf("plugins[%d].name: duplicate plugin name %q", i, name)
			continue
		}
		p.byName[name] = i
		p.configurePlugin(i, s)
	}
	p.flowControl(f)
	if f.SaturationDetector != nil && f.SaturationDetector.PluginRef != "" {
		i, ok := p.byName[f.SaturationDetector.PluginRef]
		switch {
		case !ok:
			p.errorf("saturationDetector.pluginRef: no plugin named %q", f.SaturationDetector.PluginRef)
		case f.Plugins[i].Type != PluginUtilizationDetector:
			p.errorf("saturationDetector.pluginRef: plugin %q is a %s, want %s", f.SaturationDetector.PluginRef, f.Plugins[i].Type, PluginUtilizationDetector)
		}
	}
	switch len(f.SchedulingProfiles) {
	case 0:
		p.defaultProfile()
	case 1:
		p.profile(&f.SchedulingProfiles[0])
	default:
		p.errorf("schedulingProfiles: %d profiles given; only one (single-profile-handler) is supported", len(f.SchedulingProfiles))
	}
}

// configurePlugin validates one plugin and applies its configuration-wide
// parameters (prefix, saturation).
func (p *configParser) configurePlugin(i int, s pluginSpec) {
	field := fmt.Sprintf("plugins[%d]", i)
	switch s.Type {
	case PluginQueueScorer, PluginKVCacheScorer, PluginLoRAAffinityScorer, PluginRunningRequestsScorer, PluginLeastRequestScorer, PluginRoundRobinPicker:
		p.noParams(field, s)
	case PluginMaxScorePicker, PluginRandomPicker:
		var pp pickerParams
		if p.params(field, s, &pp) && pp.MaxNumOfEndpoints < 0 {
			p.errorf("%s.parameters.maxNumOfEndpoints: %d must be positive", field, pp.MaxNumOfEndpoints)
		}
	case PluginPrefixScorer, PluginPrefixProducer:
		var pp prefixParams
		if !p.params(field, s, &pp) || len(s.Parameters) == 0 {
			return
		}
		p.prefix(field, pp)
	case PluginGlobalStrictFairness, PluginRoundRobinFairness, PluginFCFSOrdering:
		p.noParams(field, s)
	case PluginStaticUsageLimit:
		if len(s.Parameters) > 0 && string(s.Parameters) != "null" && string(s.Parameters) != "{}" {
			p.warnings = append(p.warnings, field+".parameters: "+s.Type+": dispatch is gated on every endpoint being saturated; its parameters have no effect")
		}
	case PluginUtilizationDetector:
		var up utilizationParams
		if !p.params(field, s, &up) {
			return
		}
		if up.QueueDepthThreshold != nil {
			p.cfg.QueueThreshold = *up.QueueDepthThreshold
		}
		if up.KVCacheUtilThreshold != nil {
			p.cfg.KVCacheThreshold = *up.KVCacheUtilThreshold
		}
		if up.MetricsStalenessThreshold != "" {
			d, err := time.ParseDuration(up.MetricsStalenessThreshold)
			if err != nil || d <= 0 {
				p.errorf("%s.parameters.metricsStalenessThreshold: %q is not a positive duration", field, up.MetricsStalenessThreshold)
			} else {
				p.cfg.Staleness = d
			}
		}
		if up.Headroom != nil {
			p.warnings = append(p.warnings, field+".parameters.headroom: has no effect here")
		}
	default:
		if slices.Contains(acceptedPlugins, s.Type) {
			if len(s.Parameters) > 0 {
				p.warnings = append(p.warnings, fmt.Sprintf("%s.parameters: %s is built in; its parameters have no effect", field, s.Type))
			}
			return
		}
		p.errorf("%s.type: unknown plugin type %q (supported: %s)", field, s.Type, strings.Join(supportedPlugins(), ", "))
	}
}

// flowControl reads the flowControl section when the flowControl feature
// gate is on; as in GAIE, the section is ignored otherwise.
func (p *configParser) flowControl(f *pickerConfigFile) {
	if !slices.Contains(f.FeatureGates, FeatureFlowControl) {
		if len(f.FlowControl) > 0 && string(f.FlowControl) != "null" {
			p.warnings = append(p.warnings, "flowControl: ignored without featureGates: [flowControl]")
		}
		return
	}
	var spec flowControlSpec
	if len(f.FlowControl) > 0 && string(f.FlowControl) != "null" {
		dec := json.NewDecoder(bytes.NewReader(f.FlowControl))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			p.errorf("flowControl: %w", err)
			return
		}
	}
	cfg := &flowcontrol.Config{
		Limits: flowcontrol.Limits{
			MaxRequests: int(p.quantity("flowControl.maxRequests", spec.MaxRequests)),
			MaxBytes:    p.quantity("flowControl.maxBytes", spec.MaxBytes),
		},
		Bands: map[int]flowcontrol.BandConfig{},
	}
	if d := spec.DefaultRequestTTL; d != nil {
		if d.Duration < 0 {
			p.errorf("flowControl.defaultRequestTTL: %v must not be negative", d.Duration)
		}
		cfg.DefaultTTL = d.Duration
	}
	if b := spec.DefaultPriorityBand; b != nil {
		cfg.DefaultBand = p.band("flowControl.defaultPriorityBand", b)
	}
	for i := range spec.PriorityBands {
		b := &spec.PriorityBands[i]
		field := fmt.Sprintf("flowControl.priorityBands[%d]", i)
		if _, dup := cfg.Bands[b.Priority]; dup {
			p.errorf("%s.priority: priority %d is configured twice", field, b.Priority)
			continue
		}
		cfg.Bands[b.Priority] = p.band(field, b)
	}
	if ref := spec.UsageLimitPolicyPluginRef; ref != "" {
		p.policyRef("flowControl.usageLimitPolicyPluginRef", ref, PluginStaticUsageLimit)
	}
	p.cfg.FlowControl = cfg
}

// band reads one priority band.
func (p *configParser) band(field string, b *priorityBandSpec) flowcontrol.BandConfig {
	out := flowcontrol.BandConfig{
		Limits: flowcontrol.Limits{
			MaxRequests: int(p.quantity(field+".maxRequests", b.MaxRequests)),
			MaxBytes:    p.quantity(field+".maxBytes", b.MaxBytes),
		},
		Fairness: flowcontrol.GlobalStrict,
	}
	if b.FairnessPolicyRef != "" {
		out.Fairness = p.policyRef(field+".fairnessPolicyRef", b.FairnessPolicyRef, PluginGlobalStrictFairness, PluginRoundRobinFairness)
	}
	if b.OrderingPolicyRef != "" {
		p.policyRef(field+".orderingPolicyRef", b.OrderingPolicyRef, PluginFCFSOrdering)
	}
	return out
}

// policyRef resolves a reference to a flow-control policy: a plugin's name,
// or a policy type itself (GAIE registers its defaults under their type
// names). It returns the policy's type, which must be one of types.
func (p *configParser) policyRef(field, ref string, types ...string) string {
	typ := ref
	if i, ok := p.byName[ref]; ok {
		typ = p.specs[i].Type
	}
	if !slices.Contains(types, typ) {
		p.errorf("%s: %q is not a plugin of a supported type (supported: %s)", field, ref, strings.Join(types, ", "))
	}
	return typ
}

// quantity returns q's value, 0 when unset; negative values are errors.
func (p *configParser) quantity(field string, q *resource.Quantity) int64 {
	if q == nil {
		return 0
	}
	v := q.Value()
	if v < 0 {
		p.errorf("%s: %s must not be negative", field, q.String())
		return 0
	}
	return v
}

func (p *configParser) prefix(field string, pp prefixParams) {
	if pp.AutoTune != nil && *pp.AutoTune {
		p.warnings = append(p.warnings, field+".parameters.autoTune: block size and capacity are not tuned from server metrics; the configured values are used")
	}
	switch {
	case pp.BlockSizeTokens < 0 || pp.BlockSize < 0 || pp.MaxPrefixBlocksToMatch < 0 || pp.MaxPrefixTokensToMatch < 0 || pp.LRUCapacityPerServer < 0:
		p.errorf("%s.parameters: values must not be negative", field)
		return
	case pp.BlockSizeTokens > 0:
		p.cfg.Prefix.BlockSizeTokens = pp.BlockSizeTokens
	case pp.BlockSize > 0: // legacy: characters
		p.cfg.Prefix.BlockSizeTokens = max(1, pp.BlockSize/charsPerToken)
	}
	if pp.MaxPrefixBlocksToMatch > 0 {
		p.cfg.Prefix.MaxBlocks = pp.MaxPrefixBlocksToMatch
	}
	if pp.MaxPrefixTokensToMatch > 0 {
		p.cfg.Prefix.MaxBlocks = max(1, pp.MaxPrefixTokensToMatch/p.cfg.Prefix.BlockSizeTokens)
	}
	if pp.LRUCapacityPerServer > 0 {
		p.cfg.Prefix.IndexCapacity = pp.LRUCapacityPerServer
	}
}

// params decodes s.Parameters strictly into v; it reports success.
func (p *configParser) params(field string, s pluginSpec, v any) bool {
	if len(s.Parameters) == 0 || string(s.Parameters) == "null" {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(s.Parameters))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		p.errorf("%s.parameters: %s: %w", field, s.Type, err)
		return false
	}
	return true
}

func (p *configParser) noParams(field string, s pluginSpec) {
	if len(s.Parameters) > 0 && string(s.Parameters) != "null" && string(s.Parameters) != "{}" {
		p.errorf("%s.parameters: %s takes no parameters", field, s.Type)
	}
}

// defaultProfile builds a profile from every scorer and picker declared, in
// order, each with weight 1 (GAIE does the same without schedulingProfiles).
func (p *configParser) defaultProfile() {
	sp := schedulingSpec{Name: "default"}
	for _, s := range p.specs {
		name := s.Name
		if name == "" {
			name = s.Type
		}
		if isScorer(s.Type) || isPicker(s.Type) {
			sp.Plugins = append(sp.Plugins, profilePlugin{PluginRef: name})
		}
	}
	if len(sp.Plugins) == 0 {
		p.cfg.Profile = baseProfileKeepingFallbacks(p.cfg.Profile)
		return
	}
	p.profile(&sp)
}

// baseProfileKeepingFallbacks returns [DefaultProfile] with prof's fallbacks.
func baseProfileKeepingFallbacks(prof Profile) Profile {
	d := DefaultProfile()
	d.Fallbacks = prof.Fallbacks
	return d
}

func (p *configParser) profile(sp *schedulingSpec) {
	prof := Profile{Fallbacks: p.cfg.Profile.Fallbacks}
	pickerSet := false
	for j, ref := range sp.Plugins {
		field := fmt.Sprintf("schedulingProfiles[0].plugins[%d]", j)
		i, ok := p.byName[ref.PluginRef]
		if !ok {
			p.errorf("%s.pluginRef: no plugin named %q", field, ref.PluginRef)
			continue
		}
		s := p.specs[i]
		switch {
		case isScorer(s.Type):
			w := 1.0
			if ref.Weight != nil {
				w = *ref.Weight
			}
			if w < 0 {
				p.errorf("%s.weight: %v must not be negative", field, w)
				continue
			}
			if w == 0 {
				continue
			}
			prof.Scorers = append(prof.Scorers, WeightedScorer{Scorer: newScorer(s.Type), Weight: w})
		case isPicker(s.Type):
			if pickerSet {
				p.errorf("%s.pluginRef: a profile has one picker; %q is the second", field, ref.PluginRef)
				continue
			}
			pickerSet = true
			if ref.Weight != nil {
				p.errorf("%s.weight: a picker has no weight", field)
			}
			var pp pickerParams
			_ = json.Unmarshal(s.Parameters, &pp) // validated in configurePlugin
			if pp.MaxNumOfEndpoints > 0 {
				prof.Fallbacks = pp.MaxNumOfEndpoints - 1
			}
			prof.Picker = newPicker(s.Type)
		default:
			p.errorf("%s.pluginRef: %q (%s) is neither a scorer nor a picker", field, ref.PluginRef, s.Type)
		}
	}
	if prof.Picker == nil {
		prof.Picker = &MaxScorePicker{}
	}
	if len(prof.Scorers) == 0 {
		if !scoreFree(prof.Picker) {
			p.errorf("schedulingProfiles[0].plugins: no scorer with a positive weight")
			return
		}
		// Score-free pickers (random, round-robin) still run the engine.
		prof.Scorers = []WeightedScorer{{Scorer: LeastRequestScorer{}, Weight: 1}}
	}
	p.cfg.Profile = prof
}

func isScorer(t string) bool {
	switch t {
	case PluginQueueScorer, PluginKVCacheScorer, PluginPrefixScorer, PluginLoRAAffinityScorer, PluginRunningRequestsScorer, PluginLeastRequestScorer:
		return true
	}
	return false
}

func isPicker(t string) bool {
	return t == PluginMaxScorePicker || t == PluginRandomPicker || t == PluginRoundRobinPicker
}

func scoreFree(pk Picker) bool {
	switch pk.(type) {
	case *RandomPicker, *RoundRobinPicker:
		return true
	}
	return false
}

func newScorer(t string) Scorer {
	switch t {
	case PluginQueueScorer:
		return QueueScorer{}
	case PluginKVCacheScorer:
		return KVCacheScorer{}
	case PluginPrefixScorer:
		return PrefixScorer{}
	case PluginLoRAAffinityScorer:
		return LoRAAffinityScorer{}
	case PluginRunningRequestsScorer:
		return RunningRequestsScorer{}
	default:
		return LeastRequestScorer{}
	}
}

func newPicker(t string) Picker {
	switch t {
	case PluginRandomPicker:
		return &RandomPicker{}
	case PluginRoundRobinPicker:
		return &RoundRobinPicker{}
	default:
		return &MaxScorePicker{}
	}
}

func supportedPlugins() []string {
	out := []string{
		PluginQueueScorer, PluginKVCacheScorer, PluginPrefixScorer, PluginLoRAAffinityScorer,
		PluginRunningRequestsScorer, PluginLeastRequestScorer, PluginMaxScorePicker, PluginRandomPicker,
		PluginRoundRobinPicker, PluginUtilizationDetector, PluginPrefixProducer,
		PluginGlobalStrictFairness, PluginRoundRobinFairness, PluginFCFSOrdering, PluginStaticUsageLimit,
	}
	return append(out, acceptedPlugins...)
}
