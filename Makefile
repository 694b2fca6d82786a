# The two commands a fresh machine needs (see README.md):
#   make demo   build pgdiplomat and run it on the bundled examples
#   make test   run the whole test suite (real PostgreSQL, no mocks)
# Both install missing system dependencies first (scripts/ensure-deps).

CARGO ?= cargo

.PHONY: demo test bench deps build

deps:
	@bash scripts/ensure-deps

build: deps
	$(CARGO) build --release --locked -p pgdiplomat

demo: build
	@bash scripts/demo

test: deps
	$(CARGO) test --workspace --locked

bench: deps
	@bash scripts/bench-lint
