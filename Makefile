# Targets a newcomer needs: setup, build, run the demo, test. See README.md.
GO ?= go
BIN := bin/aigw
export GOFLAGS := -buildvcs=false

# What `aigw version` prints, stamped at link time (VCS stamping is off
# above). Outside a git checkout both are empty and the binary falls back to
# its build information: "(devel)", commit "unknown".
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS = -X github.com/aigw-dev/aigw/internal/app.buildVersion=$(VERSION) -X github.com/aigw-dev/aigw/internal/app.buildCommit=$(COMMIT)

.PHONY: setup build demo components test unit lint crds crds-check fuzz bench bench-providers bench-epp bench-sched bench-flow bench-kube clean

setup: ## build the binary and the real components the Kubernetes tests use (cached by version)
	$(MAKE) build
	$(MAKE) components

build: ## bin/aigw (modules are downloaded as needed)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/aigw

demo: build ## simulated model servers behind the gateway, no API key needed
	./$(BIN) demo

# hack/components.sh returns at once when everything is cached.
components: ## Redis, kube-apiserver, etcd and GAIE's pickers for the tests (~25 min cold, cached by version); SKIP_K8S_TESTS=1 skips all but Redis
	@if [ "$(SKIP_K8S_TESTS)" = 1 ]; then echo "SKIP_K8S_TESTS=1: not building the Kubernetes test components"; hack/components.sh redis; else hack/components.sh; fi

# controller-gen generates the aigateway.envoyproxy.io CRDs from api/.
CONTROLLER_GEN = $(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0
CRD_PATHS = paths=./api/v1alpha1/... paths=./api/v1beta1/...

crds: ## regenerate the CRDs: aigateway.envoyproxy.io's from api/ (controller-gen, pinned), and the copies of GAIE's, Gateway API's and Envoy Gateway's from the modules go.mod pins
	$(CONTROLLER_GEN) crd $(CRD_PATHS) output:crd:dir=charts/aigw-crds/files/aigateway
	$(GO) run ./hack/gencrds

crds-check: ## the chart's aigateway.envoyproxy.io CRDs must match api/
	@tmp=$$(mktemp -d) && $(CONTROLLER_GEN) crd $(CRD_PATHS) output:crd:dir=$$tmp && \
	if ! diff -r -q $$tmp charts/aigw-crds/files/aigateway >/dev/null; then diff -r $$tmp charts/aigw-crds/files/aigateway | head -20; rm -rf $$tmp; echo "charts/aigw-crds/files/aigateway drifted from api/: run make crds"; exit 1; fi; rm -rf $$tmp

lint: crds-check ## gofmt and go vet must be clean, the CRDs current
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./internal/... ./api/...

test: lint components ## everything CI runs: lint, the components tests/k8s needs, then every test tier with the race detector
	$(GO) test -race -count=1 ./...

# Each fuzz target runs for FUZZTIME (the seed corpus always runs in `make test`).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/processor -run '^$$' -fuzz FuzzParseRequest -fuzztime $(FUZZTIME)
	$(GO) test ./internal/processor -run '^$$' -fuzz FuzzScanHead -fuzztime $(FUZZTIME)
	$(GO) test ./internal/processor -run '^$$' -fuzz FuzzEditedBody -fuzztime $(FUZZTIME)
	$(GO) test ./internal/processor -run '^$$' -fuzz FuzzOutputMessages -fuzztime $(FUZZTIME)
	$(GO) test ./internal/jsonscan -run '^$$' -fuzz FuzzObject -fuzztime $(FUZZTIME)
	$(GO) test ./internal/jsonscan -run '^$$' -fuzz FuzzArray -fuzztime $(FUZZTIME)
	$(GO) test ./internal/jsonscan -run '^$$' -fuzz FuzzMembers -fuzztime $(FUZZTIME)
	$(GO) test ./internal/jsonobj -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./internal/translator -run '^$$' -fuzz FuzzOpenAIStream -fuzztime $(FUZZTIME)
	$(GO) test ./internal/translator -run '^$$' -fuzz FuzzAnthropicStream -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./internal/translator -run '^$$' -fuzz FuzzAnthropicEvent -fuzztime $(FUZZTIME)
	$(GO) test ./internal/translator -run '^$$' -fuzz FuzzReadSmall -fuzztime $(FUZZTIME)
	$(GO) test ./internal/translator -run '^$$' -fuzz FuzzMessagesFromOpenAIStream -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./internal/translator -run '^$$' -fuzz FuzzBedrockStream -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./internal/translator -run '^$$' -fuzz FuzzGeminiStream -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./internal/translator -run '^$$' -fuzz FuzzArrayStream -fuzztime $(FUZZTIME)
	$(GO) test ./internal/translator -run '^$$' -fuzz FuzzAWSAnthropicStream -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./internal/sse -run '^$$' -fuzz FuzzSplitter -fuzztime $(FUZZTIME)
	$(GO) test ./internal/standalone -run '^$$' -fuzz FuzzLoadBytes -fuzztime $(FUZZTIME)
	$(GO) test ./internal/eppserver -run '^$$' -fuzz FuzzParseRequest -fuzztime $(FUZZTIME)
	$(GO) test ./internal/modelname -run '^$$' -fuzz FuzzRestore -fuzztime $(FUZZTIME)

bench: ## side-by-side load benchmark: direct vs httputil.ReverseProxy vs gateway
	$(GO) run ./tools/bench
	$(GO) test ./internal/httpproxy ./internal/router -run '^$$' -bench . -benchtime 2s

bench-providers: ## each provider schema's CPU per request as a ratio to passthrough: end to end (aigw run between a load generator and fake providers streaming event by event, then each stream written at once), in process (interleaved rounds), and the translations alone
	$(GO) run ./tools/providerbench
	$(GO) run ./tools/providerbench -burst
	$(GO) test ./internal/httpproxy -run '^$$' -bench 'ProviderCPU' -benchtime 60x -count 3
	$(GO) test ./internal/translator -run '^$$' -bench 'Translation' -count 3

bench-epp: ## aigw epp under open-loop picker streams (2000/5000/7000 decisions/s) beside a do-nothing ext_proc floor, plus the EPP-hop and large-prompt Go benchmarks
	$(GO) run ./tools/eppbench
	$(GO) test ./internal/httpproxy -run '^$$' -bench 'PoolPick|LargePrompt' -benchtime 2000x
	$(GO) test ./tests/k8s -run '^$$' -bench LargePromptTTFT -benchtime 1x -timeout 20m

bench-sched: ## scheduling quality (issue #5): random, round-robin, least-request, ours and GAIE's EPP v1.5.0 on simulated servers (~22 min; AIGW_SCHED_BENCH_QUICK=1: ~5 min smoke run)
	$(GO) test ./tests/k8s -run '^$$' -bench Scheduling -benchtime 1x -timeout 60m

bench-flow: ## flow control (GAIE's flowControl gate) at 90/100/120 % of saturation: an interactive class's TTFT without it, with GAIE's thresholds, with the queue gate (~6 min)
	$(GO) test ./tests/k8s -run '^$$' -bench FlowControl -benchtime 1x -timeout 30m

bench-kube: ## Kubernetes mode at scale (issue #14): 2000 AIGatewayRoutes with their backends, policies and Secrets: creation to served, heap, one route edit to served p50/p99 (~2 min; AIGW_SCALE_ROUTES=N)
	$(GO) test ./tests/k8s -run '^$$' -bench KubernetesScale -benchtime 1x -timeout 30m

clean:
	rm -rf bin
