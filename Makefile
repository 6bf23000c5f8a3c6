# Vitrine — the README's commands live here.
GO       ?= go
FUZZTIME ?= 10s
PKGS     := ./...

.PHONY: run build test vet fuzz bench clean

## run: build and run Vitrine with its embedded defaults (SQLite, local disk, ./data)
run: build
	./bin/vitrine

## build: compile the binary to bin/vitrine
build:
	$(GO) build -trimpath -o bin/vitrine .

## test: the whole suite — formatting, vet, race-enabled tests with real peers, short fuzzing
test: vet
	$(GO) test -race -count=1 -p 1 -timeout 20m $(PKGS)
	$(MAKE) fuzz

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

## fuzz: run every fuzz target for FUZZTIME (go test runs their seed corpora always)
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## bench: hot-path benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf bin
