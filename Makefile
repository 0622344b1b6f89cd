# Mika — run `make help` for the list of targets.
SHELL := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
ADDR ?= 127.0.0.1:8080
DATA ?= ./data
GO_TEST_FLAGS ?= -count=1 -timeout 20m
UI_SOURCES := $(shell find ui/src ui/index.html ui/package.json ui/package-lock.json ui/vite.config.* ui/tsconfig*.json -type f 2>/dev/null)

.PHONY: help run build ui deps sdk-deps test test-go test-ui test-e2e fuzz bench clean

help: ## show this list
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

run: build ## build everything and serve on http://127.0.0.1:8080 with data in ./data
	./mika serve --addr $(ADDR) --data $(DATA)

build: deps ui ## build the static binary ./mika with the web app inside
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o mika .

deps: ## install ffmpeg (and, for tests, Chromium) when missing
	@scripts/deps.sh ffmpeg

ui: ui/dist/index.html ## build the web app into ui/dist (only when its sources changed)

ui/node_modules/.package-lock.json: ui/package.json ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund

ui/dist/index.html: ui/node_modules/.package-lock.json $(UI_SOURCES)
	cd ui && npm run build

test: deps build test-go test-ui test-e2e ## run every test (Go, fuzz smoke, UI unit, browser end-to-end)

scripts/sdk/node_modules/.package-lock.json: scripts/sdk/package.json scripts/sdk/package-lock.json
	cd scripts/sdk && npm ci --no-audit --no-fund

sdk-deps: scripts/sdk/node_modules/.package-lock.json ## install axios for the document's JavaScript SDK example test

test-go: sdk-deps ## Go unit, handler, transcoding, load and fault tests, plus short fuzzing
	go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go test $(GO_TEST_FLAGS) ./...
	@scripts/fuzz.sh 10s

test-ui: ui/node_modules/.package-lock.json ## UI unit tests (Vitest)
	cd ui && npm test

test-e2e: build ## browser end-to-end tests: the real binary driven through Debian's Chromium
	@scripts/deps.sh chromium
	cd ui && MIKA_BIN=$(CURDIR)/mika npm run e2e

fuzz: ## run every fuzz target for longer (FUZZTIME=2m per target)
	@scripts/fuzz.sh $${FUZZTIME:-2m}

bench: build ## benchmarks against the built binary; writes bench/RESULTS.md
	@scripts/deps.sh ffmpeg wrk nginx
	bash bench/run.sh

clean: ## remove build outputs (not ./data)
	rm -rf mika ui/dist/assets ui/dist/index.html
