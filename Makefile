# One command per chore, the same locally and in CI.
SHELL := /bin/bash
PY := .venv/bin/python
VENV_STAMP := .venv/.installed-$(shell cat pyproject.toml requirements.lock | sha256sum | cut -c1-12)
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90
export PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL := WARNING
export PREFECT_LOGGING_INTERNAL_LEVEL := ERROR
export PYTHONWARNINGS := ignore:The 'alias' attribute with value
export MPLBACKEND := Agg

.PHONY: venv refresh test test-fast bench lint clean

venv: $(VENV_STAMP)

# The environment: uv (from PyPI, like every other package) installs the locked set in parallel,
# ~1 min on an idle 2-core machine; pip, if uv cannot be had, in ~3-4 min. The installers' chatter
# goes to .venv/install.log, shown only when the install fails; each step says what it does.
$(VENV_STAMP): pyproject.toml requirements.lock
	@bash deploy/build_venv.sh .venv
	@rm -f .venv/.installed-*
	@touch $@

refresh: venv
	@.venv/bin/migsys refresh

# Two workers (pytest-xdist), whole modules to one worker so module fixtures are built once;
# the shared warehouses are built once per run whatever the worker (tests/shared_builds.py).
# (Measured: three workers, or slow files first, cost more CPU than they save in waiting.)
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
