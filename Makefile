# nilm-edge: the README names these targets.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STORE   ?= store/nilm.duckdb
PROFILE ?= demo
HOST    ?= 127.0.0.1
PORT    ?= 8050
PYTEST_ARGS ?=

.PHONY: install run serve test test-ray check lint format browser bench whole-house clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	# the oldest DuckDB client the README says reads the store (tests/test_store_compat.py)
	$(PY) -m pip install -q --no-deps --target $(VENV)/duckdb-1.1.0 duckdb==1.1.0
	touch $@

install: $(VENV)/.installed

## run: set up, serve the dashboard at once, refresh the store on the embedded data (skips what
## is current; the pages show its progress and fill in as it publishes), then keep serving.
## Ctrl+C stops both (the store keeps everything that finished: `make run` again resumes).
run: install
	@$(VENV)/bin/dashboard --store $(STORE) --host $(HOST) --port $(PORT) --allow-missing & \
	dash=$$!; \
	trap 'kill $$dash 2>/dev/null; wait $$dash 2>/dev/null; exit 130' INT TERM; \
	echo "dashboard on http://$(HOST):$(PORT)/ now; it fills in as the pipeline publishes"; \
	$(VENV)/bin/pipeline all --profile $(PROFILE) --store $(STORE) \
		|| echo "pipeline all stopped before finishing; the dashboard keeps serving (Ctrl+C stops it)"; \
	wait $$dash

serve: install
	$(VENV)/bin/dashboard --store $(STORE) --host $(HOST) --port $(PORT)

## browser: Debian's chromium + chromedriver for the dashboard's browser tests (needs root)
browser:
	@if ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
		else echo "chromium/chromedriver missing and not root: browser tests will be skipped"; fi; \
	fi

test: install browser
	$(PY) -m pytest -q --headless $(PYTEST_ARGS)

## test-ray: the Ray executor's tests (tests/test_ray_executor.py: smoke runs on a local Ray
## instance of 2 CPUs: 7 min on 2 busy cores); installs the `ray` extra. Not in `make check`.
test-ray: install
	$(PY) -m pip install -q -e ".[ray]"
	$(PY) -m pytest -q -m ray tests/test_ray_executor.py $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: lint test

## bench: every benchmark, then the dashboard's page loads in headless Chromium over $(STORE)
bench: install browser
	@rc=0; $(PY) bench/run_all.py || rc=1; \
	echo; echo "=== bench_pages.py ==="; \
	$(PY) bench/bench_pages.py --store $(STORE) || rc=1; \
	exit $$rc

## whole-house: every test window of $(STORE)'s float CNNs, against the stored estimates
whole-house: install
	$(PY) bench/bench_whole_house.py --store $(STORE)

clean:
	rm -rf $(VENV) store/*.duckdb* store/*.artifacts test-artifacts bench/results
