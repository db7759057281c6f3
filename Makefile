# v7 — the two set-up commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
# `make demo` needs only the runtime dependencies: the dev tools are `make test`'s.
RUN_STAMP := $(VENV)/.installed-run
# The default state dir, so `v7 doctor` right after the demo reads the demo's state.
STATE  ?= logs/state
PORT   ?= 8501
# e.g. RUN_ARGS=--fresh: move an earlier run's memory in $(STATE) aside (into backup-*/)
RUN_ARGS ?=

.PHONY: demo test lint typecheck unit chromium bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $(RUN_STAMP)

## demo: paper engine on synthetic data (paced bars) + the dashboard on 127.0.0.1:$(PORT)
demo: $(RUN_STAMP)
	@mkdir -p $(STATE)
	@echo "v7 demo: engine (paper, synthetic) -> $(STATE); dashboard -> http://127.0.0.1:$(PORT)"
	@echo "v7 demo: in another terminal: $(BIN)/v7 doctor --state-dir $(STATE)"
	@$(BIN)/v7 dashboard --state-dir $(STATE) --port $(PORT) & dash=$$!; \
	  trap 'kill $$dash 2>/dev/null' EXIT; \
	  $(BIN)/v7 run --state-dir $(STATE) $(RUN_ARGS); code=$$?; \
	  if [ $$code = 2 ]; then echo "v7 demo: to start over on $(STATE): make demo RUN_ARGS=--fresh"; fi; \
	  exit $$code

## chromium: Debian's chromium for the browser test (skipped by the test when impossible)
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    (apt-get update -q && apt-get install -y -q chromium fonts-noto-color-emoji) >/tmp/v7-chromium-install.log 2>&1 \
	      || echo "chromium install failed (see /tmp/v7-chromium-install.log); the browser test will skip"; \
	  else echo "chromium not installed and not root: the browser test will skip"; fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy execution

unit: $(STAMP)
	$(BIN)/pytest

## test: lint, mypy on execution/, and the whole pytest suite
test: $(STAMP) chromium lint typecheck unit

## bench: benchmarks, JSON into bench/results/ (not part of `make test`)
bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) logs build *.egg-info
