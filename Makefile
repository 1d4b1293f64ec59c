# One command per chore, the same locally and in CI.
SHELL := /bin/bash
PY := .venv/bin/python
VENV_STAMP := .venv/.installed-$(shell cat pyproject.toml requirements.lock | sha256sum | cut -c1-12)
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90
export MPLBACKEND := Agg

.PHONY: venv refresh test test-fast bench lint clean

venv: $(VENV_STAMP)

# The environment is built quietly: pip's and setuptools' chatter goes to .venv/install.log,
# which is shown only when the install fails.
$(VENV_STAMP): pyproject.toml requirements.lock
	@echo "Building the environment in .venv (first run: a few minutes; log in .venv/install.log)"
	@test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	@{ $(PY) -m pip install --upgrade pip && \
	   $(PY) -m pip install -c requirements.lock -e '.[dev]'; } > .venv/install.log 2>&1 \
	  || { tail -n 40 .venv/install.log; echo "environment build failed: see .venv/install.log"; exit 1; }
	@rm -f .venv/.installed-*
	@touch $@

refresh: venv
	@.venv/bin/migsys refresh

# Two workers (pytest-xdist), whole modules to one worker so module fixtures are built once;
# the shared warehouses are built once per run whatever the worker (tests/conftest.py).
TEST_WORKERS := -n 2 --dist loadscope

test: venv
	$(PY) -m pytest -q $(TEST_WORKERS) --durations=20

# No warehouse is built: tests needing one are marked slow automatically (tests/conftest.py).
test-fast: venv
	$(PY) -m pytest -q $(TEST_WORKERS) -m 'not slow'

bench: venv
	$(PY) -m migsys.bench

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

clean:
	rm -rf var/builds
