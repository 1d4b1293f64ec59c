"""docker-compose.yml is valid Compose, runs only commands the image has, and exposes nothing.

There is no Docker engine in CI: the file is parsed and interpolated the way ``docker compose``
does (YAML with merge keys, then ``${VAR:-default}`` in strings) and validated by compose-spec.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from compose_file import (
    DOCKERFILE,
    REPO_ROOT,
    compose_document,
    mount,
    validated,
)

EXPECTED_SERVICES = {"dask-tls-init", "prefect-server", "migsys", "dask-scheduler", "dask-worker"}
# Services that run once and exit (restart: "no"): no healthcheck to keep.
ONE_SHOT_SERVICES = {"dask-tls-init"}
# The base image (python:3.11-slim) provides the interpreter the healthchecks call.
BASE_IMAGE_EXECUTABLES = {"python"}


@pytest.fixture(scope="module")
def services() -> dict[str, dict]:
    return validated(compose_document())["services"]


def test_compose_file_validates_against_the_spec(services: dict[str, dict]) -> None:
    assert set(services) == EXPECTED_SERVICES


@pytest.mark.parametrize(
    ("path", "bad_value", "error"),
    [
        (("services", "migsys", "imagee"), "migsys:latest", "imagee"),
        (("services", "dask-worker", "healthcheck", "interval"), "often", "duration"),
        (("volumes-typo",), {}, "volumes-typo"),
    ],
)
def test_validator_rejects_a_broken_copy(
    path: tuple[str, ...], bad_value: object, error: str
) -> None:
    """The check is real: the same validator refuses a copy with one bad key or value."""
    document = copy.deepcopy(compose_document())
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad_value
    with pytest.raises(ValueError, match=error):
        validated(document)


def test_named_volumes_are_declared() -> None:
    """compose-spec does not check short-syntax volume names, so check them here."""
    document = validated(compose_document())
    declared = set(document.get("volumes", {}))
    for name, service in document["services"].items():
        for volume in service.get("volumes", []):
            source = mount(volume)[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source} is not declared"


def test_environment_overrides_are_interpolated() -> None:
    document = compose_document({"MIGSYS_SOURCES_DIR": "/srv/sources", "MIGSYS_SCHEDULE_TZ": "UTC"})
    migsys = validated(document)["services"]["migsys"]
    assert ("/srv/sources", "/data/sources", True) in [mount(v) for v in migsys["volumes"]]
    assert migsys["environment"]["MIGSYS_SCHEDULE_TZ"] == "UTC"


def test_ports_are_bound_to_localhost_only(services: dict[str, dict]) -> None:
    published = [(name, port) for name, svc in services.items() for port in svc.get("ports", [])]
    assert published, "the Prefect UI and the Dask scheduler must be reachable from the host"
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), f"{name}: port {port} is not bound to 127.0.0.1"


def test_every_service_has_a_healthcheck(services: dict[str, dict]) -> None:
    for name, service in services.items():
        if name in ONE_SHOT_SERVICES:
            assert service["restart"] == "no", f"{name} runs once: it must not be restarted"
            continue
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] == "CMD", f"{name}: no exec-form healthcheck"


def test_volumes_for_home_and_sources(services: dict[str, dict]) -> None:
    for name in ("migsys", "dask-worker"):
        targets = {mount(volume)[1] for volume in services[name]["volumes"]}
        assert {"/var/migsys", "/data/sources"} <= targets, name
        environment = services[name]["environment"]
        assert environment["MIGSYS_HOME"] == "/var/migsys"
        assert environment["MIGSYS_SOURCES"] == "/data/sources"


def test_workers_can_be_scaled(services: dict[str, dict]) -> None:
    """--scale needs no fixed container name and no host port on the scaled service."""
    worker = services["dask-worker"]
    assert "container_name" not in worker and not worker.get("ports")
    assert "tls://dask-scheduler:8786" in worker["command"]


def image_executables() -> set[str]:
    """Console scripts the image gets: migsys's own plus those of every pinned distribution."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    scripts = set(pyproject["project"]["scripts"])
    lock = (REPO_ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = {
        line.split("==")[0].strip().lower().replace("_", "-")
        for line in lock.splitlines()
        if "==" in line and not line.startswith("#")
    }
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"].lower().replace("_", "-")
        if name in pinned:
            scripts |= {
                ep.name for ep in distribution.entry_points if ep.group == "console_scripts"
            }
    return scripts | BASE_IMAGE_EXECUTABLES


def service_commands(services: dict[str, dict]) -> list[tuple[str, list[str]]]:
    commands = []
    for name, service in services.items():
        commands.append((name, list(service["command"])))
        if "healthcheck" in service:
            commands.append((f"{name} healthcheck", list(service["healthcheck"]["test"][1:])))
    return commands


def test_every_command_exists_among_the_image_entry_points(services: dict[str, dict]) -> None:
    available = image_executables()
    for where, command in service_commands(services):
        assert command[0] in available, (
            f"{where}: `{command[0]}` is not an entry point of the image"
        )
    dockerfile_cmd = re.search(r"^CMD\s+(\[.*\])\s*$", DOCKERFILE.read_text(), re.MULTILINE)
    assert dockerfile_cmd and json.loads(dockerfile_cmd.group(1))[0] in available


def subcommand_path(command: list[str]) -> list[str]:
    """The program and its sub-commands: the words before the first option or argument value."""
    words = [command[0]]
    for word in command[1:]:
        if word.startswith("-") or ":" in word or "/" in word:
            break
        words.append(word)
    return words


@pytest.mark.parametrize("service", sorted(EXPECTED_SERVICES))
def test_service_subcommands_exist(service: str, services: dict[str, dict]) -> None:
    """``<program> <sub-commands> --help`` succeeds: `migsys serve`, `prefect server start`..."""
    words = subcommand_path(services[service]["command"])
    executable = shutil.which(words[0], path=str(Path(sys.executable).parent))
    assert executable, f"{service}: {words[0]} is not installed in this environment"
    environment = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    completed = subprocess.run(
        [executable, *words[1:], "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )
    assert completed.returncode == 0, (
        f"{service}: {' '.join(words)} --help failed:\n{completed.stderr}"
    )


def test_dockerfile_installs_the_pinned_working_set() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "FROM python:3.11" in text
    assert "pip install -c requirements.lock -e ." in text
    ignored = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".venv/", "var/", "data/"} <= set(ignored), "the build context must not carry data"
