# Vitrine — the README's commands live here.
GO       ?= go
FUZZTIME ?= 10s
PKGS     := ./...

.PHONY: run build test vet fuzz bench clean web web-size

## run: build the player page (npm), then build and run Vitrine with its embedded defaults (SQLite, local disk, ./data)
run: web build
	@echo "make run: starting ./bin/vitrine (its log names the console and player URLs)"
	./bin/vitrine

## web: the player page and widget: npm ci and esbuild into web/dist, which the binary embeds
WEB_SRC := $(shell find web/src -type f 2>/dev/null) web/build.mjs
web: web/dist/manifest.json
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	@echo "make: installing the web page's build tools (npm ci in web/; the first time only, about a minute)"
	cd web && npm ci --no-audit --no-fund
web/dist/manifest.json: web/node_modules/.package-lock.json $(WEB_SRC)
	@echo "make: bundling the player page, the console and embed.js into web/dist (esbuild, a few seconds)"
	cd web && npm run build

## web-size: gzip size of the page's JavaScript and CSS (fails over 100 KB without hls.js)
web-size: web/node_modules/.package-lock.json
	cd web && npm run size

## build: compile the binary to bin/vitrine
build:
	@echo "make: compiling bin/vitrine (the first time about 3-4 minutes: Go downloads and builds SQLite, WebRTC and the other modules; then seconds)"
	$(GO) build -trimpath -o bin/vitrine .
	@echo "make: bin/vitrine built"

## test: the whole suite — formatting, vet, race-enabled tests with real peers, short fuzzing
test: vet
	$(GO) test -race -count=1 -p 1 -timeout 20m $(PKGS)
	$(MAKE) fuzz

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

## fuzz: run every fuzz target for FUZZTIME (go test runs their seed corpora always); see scripts/fuzz.sh
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

## bench: hot-path benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf bin web/dist/static web/dist/embed.js web/dist/manifest.json
