# One image for every service of docker-compose.yml: the migsys CLI, the Prefect server and the
# Dask scheduler/workers all run from the same pinned working set (requirements.lock), so a flow,
# its tasks and the Dask workers always agree on library versions.
#
# The base image is pinned to an exact Python patch release and Debian release, so a rebuild
# does not silently change the interpreter. To pin it byte for byte as well, append the digest
# your registry reports (`docker buildx imagetools inspect python:3.11.13-slim-bookworm`):
#   FROM python:3.11.13-slim-bookworm@sha256:<digest>
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DO_NOT_TRACK=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=90 \
    MPLBACKEND=Agg \
    MIGSYS_HOME=/var/migsys \
    MIGSYS_SOURCES=/data/sources \
    PREFECT_HOME=/var/prefect

WORKDIR /app

# Dependencies first, from the lock, so code edits do not reinstall them.
COPY pyproject.toml requirements.lock README.md ./
RUN mkdir -p migsys flows kernels warehouse/parsers sweeps projections bench reports dbt_project studies \
    && for pkg in migsys flows kernels warehouse warehouse/parsers sweeps projections bench reports; do touch "$pkg/__init__.py"; done \
    && pip install -c requirements.lock -e . \
    && rm -rf migsys flows kernels warehouse sweeps projections bench reports dbt_project studies

# The code, the dbt project and the standing studies. Editable install: the dbt project is found
# beside the packages (migsys.warehouse.paths.DBT_PROJECT_DIR), not inside site-packages.
COPY . .
RUN pip install -c requirements.lock --no-deps -e . \
    && useradd --create-home --uid 10001 migsys \
    && mkdir -p "$MIGSYS_HOME" "$MIGSYS_SOURCES" "$PREFECT_HOME" /certs/scheduler /certs/worker /certs/client \
    && chown -R migsys:migsys "$MIGSYS_HOME" "$PREFECT_HOME" /certs /app/dbt_project

USER migsys
# /certs: a role's Dask TLS certificate and key (its own volume, written by deploy/make_secrets.py;
# the folders exist here so that new volumes mounted on them belong to migsys).
VOLUME ["/var/migsys", "/data/sources", "/certs"]

ENTRYPOINT []
CMD ["migsys", "--help"]
