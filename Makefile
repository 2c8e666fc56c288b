# p2v_tui: see README.md. `make demo` and `make test` are the quick start.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Python outside the package: stdlib scripts that run on Ganeti nodes and image builders
PY_SCRIPTS := osdef/bootstrap_modules.py osdef/p2v-target/instance-facts
SHELL_SCRIPTS := $(shell git ls-files -- 'scripts/*' '.ci/*' '*.sh' 'osdef/*' 'initrd/*' 'livecd/*' 'tests/e2e/*' 2>/dev/null | while read -r f; do head -c 64 "$$f" | grep -qE '^\#!.*(ba)?sh' && echo "$$f"; done)

.PHONY: deps demo test lint typecheck shellcheck pytest bench bench-cutover livecd lab clean

deps:
	scripts/deps

demo: deps
	$(VENV)/bin/p2v --demo --report p2v-demo-report

lint: deps
	$(VENV)/bin/ruff check p2v_tui tests bench livecd $(PY_SCRIPTS)
	$(VENV)/bin/ruff format --check p2v_tui tests bench livecd $(PY_SCRIPTS)

typecheck: deps
	$(VENV)/bin/mypy

shellcheck:
	shellcheck $(SHELL_SCRIPTS)

# the end-to-end lab's further migrations (marker lab) run in make lab
pytest: deps
	$(PY) -m pytest -q -m "not lab"

# The test command (README, .ci/run): every check, then every test.
test: lint typecheck shellcheck pytest

LIVE_OUT ?= livecd-out

# The live image (README "Live image"): ISO and PXE files in $(LIVE_OUT); needs root.
livecd: deps
	livecd/make-live-image $(LIVE_OUT)

# See it for real (README): an old server migrated by the live image into a
# real Ganeti instance that boots; timings per phase. Root; LAB_ARGS=--help.
lab: deps
	$(PY) -m tests.e2e $(LAB_ARGS)

bench: deps
	$(PY) bench/transfer

# The outage of a warm migration against a cold one (README "Warm passes"); root.
bench-cutover: deps
	$(PY) bench/cutover.py

clean:
	rm -rf p2v-demo-report livecd-out .mypy_cache .ruff_cache .pytest_cache .hypothesis
