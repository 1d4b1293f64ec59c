#!/usr/bin/env bash
# Build the project's environment: `make venv` (and `make refresh`, `make test` through it).
#
# The locked set (requirements.lock, as constraints) with the project installed editable and its
# dev extras. uv installs it (downloads and unpacks in parallel): it comes from PyPI like every
# other package, into the environment itself, unless one is on PATH already. If uv cannot be had
# or fails, pip does the same job, slower. Each step prints one line with its time; the
# installers' output goes to $venv/install.log, shown when the build fails.
#
# uv compiles the packages' bytecode as it installs them (pip does by default): where
# PYTHONDONTWRITEBYTECODE is set, as on our CI machines, nothing else ever writes it, and every
# process (each `migsys` command, each dbt and Dask worker) would compile dbt, Prefect, Dask and
# pandas from source: `import dbt.cli.main` takes 4.0 s without bytecode and 2.2 s with it. The
# compilation costs ~25 s once per environment on 2 cores.
set -euo pipefail
venv="${1:-.venv}"
log="$venv/install.log"
started=$SECONDS

step() { printf '  %-46s' "$1"; step_started=$SECONDS; }
done_step() { echo "done ($((SECONDS - step_started)) s)"; }
fail() {
  echo "failed"
  tail -n 40 "$log"
  echo "environment build failed: see $log" >&2
  exit 1
}

echo "Building the environment in $venv (log in $log)"
step "virtual environment (Python 3.11)"
if [[ ! -x "$venv/bin/python" ]]; then
  { python3.11 -m venv "$venv" || python3 -m venv "$venv"; } >/dev/null 2>&1 || fail
fi
: >"$log"
done_step

installer=pip
uv_bin="$(command -v uv || true)"
step "installer: uv"
if [[ -z "$uv_bin" ]]; then
  if "$venv/bin/python" -m pip install --quiet --disable-pip-version-check uv >>"$log" 2>&1; then
    uv_bin="$venv/bin/uv"
  fi
fi
if [[ -n "$uv_bin" ]] && "$uv_bin" --version >>"$log" 2>&1; then
  installer=uv
  done_step
else
  echo "not available: pip instead (slower)"
fi

step "packages ($installer, requirements.lock)"
if [[ "$installer" == uv ]]; then
  if ! "$uv_bin" pip install --python "$venv/bin/python" --compile-bytecode \
    -c requirements.lock -e '.[dev]' >>"$log" 2>&1; then
    echo "uv failed: pip instead (slower)"
    installer=pip
    step "packages (pip, requirements.lock)"
  fi
fi
if [[ "$installer" == pip ]]; then
  {
    "$venv/bin/python" -m pip install --quiet --upgrade pip &&
      "$venv/bin/python" -m pip install -c requirements.lock -e '.[dev]'
  } >>"$log" 2>&1 || fail
fi
done_step
echo "Environment ready in $((SECONDS - started)) s"
