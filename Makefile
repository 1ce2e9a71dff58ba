# netfence: `make demo` runs the product on a local control plane, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit integration bench bench-connectivity clean system-packages vendor-js

# The console's browser libraries (Cytoscape.js) come from npm at package-lock.json's
# versions into web/static/vendor/ (git ignores them) before the package is installed.
$(STAMP): pyproject.toml package-lock.json
	scripts/vendor-js
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/netfence demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest tests/core -q

integration: $(STAMP) system-packages
	$(BIN)/pytest tests/integration -q

# Debian packages the browser and dataplane tests need (chromium, iproute2, iptables,
# nftables, socat), installed once; a no-op when they are there.
system-packages:
	scripts/install-system-packages

test: lint system-packages
	$(BIN)/pytest -q -ra

bench: $(STAMP)
	$(BIN)/python benchmarks/controller_bench.py

# Pure computation, no cluster: the connectivity matrix, explain and impact previews.
bench-connectivity: $(STAMP)
	$(BIN)/python benchmarks/connectivity_bench.py

# What a user waits for: `netfence connectivity -f` from the files to its last byte.
.PHONY: bench-connectivity-e2e
bench-connectivity-e2e: $(STAMP)
	$(BIN)/python benchmarks/connectivity_e2e_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache

vendor-js:
	scripts/vendor-js

.PHONY: bench-web
bench-web: $(STAMP)
	$(BIN)/python benchmarks/web_bench.py

# What watching the controller costs: /metrics scrape time and memory with and without.
.PHONY: bench-operations
bench-operations: $(STAMP)
	$(BIN)/python benchmarks/operations_bench.py

# The console on 1,000 namespaces, 5,000 controllers and 20,000 pods (docs/benchmarks.md).
.PHONY: bench-console-scale
bench-console-scale: $(STAMP)
	$(BIN)/python benchmarks/console_scale_bench.py
