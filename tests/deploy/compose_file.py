"""docker-compose.yml as ``docker compose`` reads it, for the tests of tests/deploy.

There is no Docker engine in CI: the file is parsed and interpolated the way ``docker compose``
does (YAML with merge keys, then ``${VAR:-default}`` in strings) and validated by compose-spec.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from compose_spec import PyCompose

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
# Compose's interpolation syntax: ${VAR}, ${VAR:-default}, ${VAR-default}.
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<sep>:?-)(?P<default>[^}]*))?\}")


def interpolate(value: object, environ: dict[str, str]) -> object:
    """Replace ``${VAR:-default}`` in every string of a parsed compose document, as compose does."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, sep, default = match.group("name", "sep", "default")
            current = environ.get(name)
            if current is None or (sep == ":-" and current == ""):
                return default or ""
            return current

        return INTERPOLATION.sub(substitute, value)
    if isinstance(value, dict):
        return {key: interpolate(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, environ) for item in value]
    return value


def compose_document(environ: dict[str, str] | None = None) -> dict:
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))  # resolves << merge keys
    return interpolate(raw, {} if environ is None else environ)


def validated(document: dict) -> dict:
    """compose-spec's parse + reference checks; returns the normalised dict."""
    compose = PyCompose.from_json(json.dumps(document))
    compose.validate()
    compose.to_spec()
    return compose.to_dict()


def mount(volume: str | dict) -> tuple[str, str, bool]:
    """(source, target, read-only) of a short- or long-syntax volume entry."""
    if isinstance(volume, dict):
        return volume["source"], volume["target"], bool(volume.get("read_only"))
    source, target, *mode = volume.split(":")
    return source, target, "ro" in (mode[0].split(",") if mode else [])
