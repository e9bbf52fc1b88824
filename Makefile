# The entry points people type. `make test` is the README's test command and what
# CI runs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help demo venv tools images lint unit e2e test chaos fuzz bench crds screenshots cluster-up cluster-down cluster-status clean

help:
	@echo "make demo          local cluster + helm install + run the example DAG and watch it finish"
	@echo "make test          lint + unit + e2e tests (builds tools and starts the local cluster when needed)"
	@echo "make unit          fast unit tests only"
	@echo "make e2e           e2e tests against the local cluster (or AIRKUBE_TEST_KUBECONFIG)"
	@echo "make lint          ruff, mypy, import-linter"
	@echo "make chaos         SIGKILL the operator during big runs, refuse its status writes; check the history (minutes)"
	@echo "make fuzz          ~1,300 malformed DAGs and runs beside a good DAG: verdicts, tracebacks, stalls (minutes)"
	@echo "make bench         benchmarks (bench/) on the local cluster; not part of the tests"
	@echo "make crds          regenerate crds/ (and the chart's copy) from the pydantic models"
	@echo "make screenshots   copy the browser tests' screenshots that the README shows into docs/"
	@echo "make tools         build the pinned cluster binaries into ~/.cache/airkube"
	@echo "make images        build the images of the real node (busybox, python, operator)"
	@echo "make cluster-up    start the local cluster (kubectl context kwok-airkube)"
	@echo "make cluster-down  delete it"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

venv: $(STAMP)

demo: $(STAMP) tools
	hack/demo.sh

tools:
	hack/build-tools.sh

images:
	hack/images.sh build

lint: $(STAMP)
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest -m 'not e2e' $(PYTEST_ARGS)

e2e: $(STAMP) tools
	$(BIN)/pytest -m e2e $(PYTEST_ARGS)

test: lint $(STAMP) tools
	$(BIN)/pytest $(PYTEST_ARGS)

# Not part of `make test`: three 200-task runs, 30+ operator kills, a 10 s refused-status
# window, on the local cluster (tests/e2e/chaos.py; CHAOS_ARGS=--help lists its knobs).
CHAOS_ARGS ?=
README_SCREENSHOTS = dag-list grid graph run try live-log trigger-form clear-preview forbidden

screenshots:
	@for s in $(README_SCREENSHOTS); do \
	  test -f build/screenshots/$$s.png || { echo "build/screenshots/$$s.png is missing: run the browser tests (make e2e)"; exit 1; }; \
	  cp build/screenshots/$$s.png docs/screenshots/$$s.png; done
	@echo "docs/screenshots: $(README_SCREENSHOTS)"

chaos: $(STAMP) tools
	PYTHONPATH=tests $(BIN)/python -m e2e.chaos $(CHAOS_ARGS)

# Not part of `make test`: malformed and hostile DAGs and DAGRuns (tests/spec_fuzz.py)
# applied beside a good DAG with the operator running (tests/e2e/fuzz.py; FUZZ_ARGS=--help
# lists its knobs; tests/e2e/test_fuzz.py is the bounded version).
FUZZ_ARGS ?= --dags 1000 --runs 300
fuzz: $(STAMP) tools
	PYTHONPATH=tests $(BIN)/python -m e2e.fuzz $(FUZZ_ARGS)

bench: $(STAMP) tools
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	hack/build-tools.sh argo
	$(BIN)/python bench/suite.py

crds: $(STAMP)
	$(BIN)/python -m airkube.api.crdgen crds
	rm -f charts/airkube/crds/*.yaml
	cp crds/*.yaml charts/airkube/crds/

cluster-up: tools
	hack/cluster.sh up

cluster-down:
	hack/cluster.sh down

cluster-status:
	hack/cluster.sh status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
