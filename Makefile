# glmflow build targets. `make help` lists them.
GO       ?= go
BIN      ?= bin/glmflow
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PKGS     := ./...
# Benchmarks run single-threaded by default (the machine's 2 vCPUs are noisy); override with
# make bench THREADS=2.
THREADS  ?= 1

.PHONY: help build run test test-long bench bench-go lint generate-check kernels gpu-check fuzz deps clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## static binary in bin/ (CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/glmflow

test: ## the test suite CI runs (-short keeps it under ~15 min on 2 cores)
	$(GO) test -short -count=1 -timeout 20m $(PKGS)

test-long: ## the full-size tests
	$(GO) test -count=1 -timeout 60m $(PKGS)

run: build ## train the embedded tiny GLM-4.5V on the mini CORD shards (pipelines/glm45v_tiny.yaml)
	./$(BIN) run pipelines/glm45v_tiny.yaml

bench: build ## kernel benchmarks vs OpenBLAS and the memory-bandwidth ceiling, same run
	GOMAXPROCS=$(THREADS) ./$(BIN) bench

bench-go: ## every go test benchmark, single-threaded
	GOMAXPROCS=$(THREADS) $(GO) test -run '^$$' -bench . -count 1 $(PKGS)

lint: ## gofmt check + go vet (asmdecl included)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	CGO_ENABLED=0 $(GO) vet $(PKGS)

generate-check: ## the committed generated assembly equals what the generators write now
	$(GO) generate ./kernels/...
	@git diff --exit-code --stat -- kernels || { echo "generated files are stale: run go generate ./kernels/... and commit"; exit 1; }

kernels: ## CUDA kernels → PTX (kernels/cuda/ptx/*.cu; needs clang-19: apt-get install clang-19)
	kernels/cuda/ptx/gen.sh
	$(GO) test -count=1 -run 'TestPTXFresh|TestSourcesCompile|TestTableMatchesPTX' ./kernels/cuda/ptx/

gpu-check: build ## GPU self-check: scripts/gpu-check/run.sh writes $$OUT/report.md (send it to a GPU machine)
	gzip -9 -kf $(BIN)
	OUT=$${OUT:-out/gpu-check} GLMFLOW_BIN=$(BIN) bash scripts/gpu-check/run.sh

fuzz: ## run each fuzz target for FUZZTIME (default 1m)
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $${FUZZTIME:-1m} ./tensors/safetensors

deps: ## Debian packages the benchmarks use (OpenBLAS baseline); needs root
	@if ! ldconfig -p | grep -q libopenblas.so.0; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y libopenblas0-pthread; fi

clean:
	rm -rf bin
