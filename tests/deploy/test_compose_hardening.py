"""The compose stack's hardening, checked in the file and, where it can be, for real.

- Dask: TLS only, mutual certificates. A real scheduler and worker run here with the exact
  commands and environment of docker-compose.yml (paths moved to a temporary folder, ports free)
  and certificates from deploy/make_secrets.py; a client without certificates, one without TLS
  and one with another CA's certificate are refused; the stack's own client gets an answer.
- Prefect: the API demands basic auth from an env file that git and the image never carry; a real
  `prefect server start` with that file refuses requests without the credentials.
- Sources mounted read-only (and never created empty), images pinned.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from compose_file import (
    COMPOSE_FILE,
    DOCKERFILE,
    REPO_ROOT,
    compose_document,
    mount,
    validated,
)

SECRETS_SCRIPT = REPO_ROOT / "deploy" / "make_secrets.py"
BIN = Path(sys.executable).parent
DASK_SERVICES = ("dask-scheduler", "dask-worker", "migsys")


def load_make_secrets():
    spec = importlib.util.spec_from_file_location("make_secrets", SECRETS_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_secrets = load_make_secrets()


@pytest.fixture(scope="module")
def services() -> dict[str, dict]:
    return validated(compose_document())["services"]


@pytest.fixture(scope="module")
def raw_services() -> dict[str, dict]:
    """The file as written (compose-spec drops keys such as bind.create_host_path)."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[0]} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {timeout} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- in the file -----------------------------------------------------------------------------


def test_sources_are_mounted_read_only_and_never_created(
    services: dict[str, dict], raw_services: dict[str, dict]
) -> None:
    mounted = 0
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target, read_only = mount(volume)
            if target == "/data/sources":
                mounted += 1
                assert read_only, f"{name}: the sources are mounted read-write"
    assert mounted == 2  # the flow and the workers
    for name in ("migsys", "dask-worker"):
        (bind,) = [v for v in raw_services[name]["volumes"] if isinstance(v, dict)]
        # A missing host folder is an error, not an empty folder a refresh would ingest.
        assert bind["bind"]["create_host_path"] is False, name
    assert services["migsys"]["environment"]["MIGSYS_FETCH"] == "false"  # nothing to write to


def test_dask_speaks_only_mutual_tls(services: dict[str, dict]) -> None:
    scheduler = services["dask-scheduler"]["command"]
    assert scheduler[scheduler.index("--protocol") + 1] == "tls"
    for name, role in (("dask-scheduler", "scheduler"), ("dask-worker", "worker")):
        command = services[name]["command"]
        flags = {command[i]: command[i + 1] for i, w in enumerate(command) if w.startswith("--")}
        assert flags["--tls-ca-file"] == "/certs/ca.pem"
        assert flags["--tls-cert"] == f"/certs/{role}.pem"
        assert flags["--tls-key"] == f"/certs/{role}-key.pem"
    assert "tls://dask-scheduler:8786" in services["dask-worker"]["command"]
    assert services["migsys"]["environment"]["MIGSYS_DASK_SCHEDULER"] == "tls://dask-scheduler:8786"
    for name in DASK_SERVICES:
        environment = services[name]["environment"]
        assert environment["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] == "true", name
        assert ("dask-tls", "/certs", True) in [mount(v) for v in services[name]["volumes"]], name
    # Only the one-shot init writes the certificates, and the scheduler waits for it.
    writers = [
        name
        for name, service in services.items()
        if ("dask-tls", "/certs", False) in [mount(v) for v in service.get("volumes", [])]
    ]
    assert writers == ["dask-tls-init"]
    assert services["dask-tls-init"]["command"][:4] == [
        "python",
        "deploy/make_secrets.py",
        "dask-tls",
        "/certs",
    ]
    assert services["dask-scheduler"]["depends_on"]["dask-tls-init"] == {
        "condition": "service_completed_successfully"
    }
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert "chown -R migsys:migsys" in dockerfile and "/certs" in dockerfile  # volume writable


def test_prefect_api_auth_comes_from_an_uncommitted_env_file(
    services: dict[str, dict], raw_services: dict[str, dict]
) -> None:
    for name in ("prefect-server", "migsys"):
        assert raw_services[name]["env_file"] == [
            {"path": "deploy/secrets/prefect-auth.env", "required": True}
        ], name
        environment = services[name]["environment"]
        assert not {k for k in environment if "AUTH" in k}, f"{name}: credentials in the file"
    assert "deploy/secrets/" in (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert "deploy/secrets/" in (REPO_ROOT / ".dockerignore").read_text().splitlines()
    ignored = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "check-ignore", "-q", "deploy/secrets/prefect-auth.env"],
        check=False,
    )
    assert ignored.returncode == 0, "git would commit deploy/secrets/prefect-auth.env"


def test_prefect_auth_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "secrets" / "prefect-auth.env"
    assert make_secrets.main(["prefect-auth", str(env_file)]) == 0
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    server, client = values["PREFECT_SERVER_API_AUTH_STRING"], values["PREFECT_API_AUTH_STRING"]
    assert server == client and re.fullmatch(r"migsys:[A-Za-z0-9_-]{43}", server)
    assert env_file.stat().st_mode & 0o777 == 0o600
    before = env_file.read_bytes()
    assert make_secrets.prefect_auth(env_file) is False  # kept: running again changes nothing
    assert env_file.read_bytes() == before
    assert make_secrets.prefect_auth(env_file, force=True) is True
    assert env_file.read_bytes() != before


def test_images_are_pinned(services: dict[str, dict]) -> None:
    """An exact Python patch release and Debian release (plus a digest when one is known)."""
    (base,) = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base), base
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in services.items():
        assert service["image"] == f"migsys:{version}", f"{name}: {service['image']}"


# --- Dask TLS, for real ----------------------------------------------------------------------


def localized(command: list[str], certs: Path, ports: dict[str, str]) -> list[str]:
    """A compose command with /certs moved to ``certs`` and fixed ports replaced."""
    words = []
    for word in command:
        word = word.replace("/certs/", f"{certs}/")
        for old, new in ports.items():
            word = word.replace(old, new)
        words.append(word)
    executable = BIN / words[0]
    return [str(executable), *words[1:]]


def compose_dask_config(services: dict[str, dict], certs: Path) -> dict[str, object]:
    """The Dask settings the compose environment gives (as dask reads env vars), dotted keys."""
    import dask.config

    environment = {
        key: value.replace("/certs/", f"{certs}/")
        for key, value in services["migsys"]["environment"].items()
        if key.startswith("DASK_")
    }

    def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
        flat: dict[str, object] = {}
        for key, value in tree.items():
            if isinstance(value, dict):
                flat |= flatten(value, f"{prefix}{key}.")
            else:
                flat[f"{prefix}{key}"] = value
        return flat

    return flatten(dask.config.collect_env(environment))


@pytest.fixture(scope="module")
def tls_cluster(services: dict[str, dict], tmp_path_factory) -> Iterator[tuple[str, Path, dict]]:
    """A scheduler and a worker started with the compose commands; (address, certs, config)."""
    certs = tmp_path_factory.mktemp("certs")
    assert make_secrets.main(["dask-tls", str(certs)]) == 0
    port = free_port()
    config = compose_dask_config(services, certs)
    env = {
        **os.environ,
        **{
            k: v.replace("/certs/", f"{certs}/")
            for k, v in services["dask-scheduler"]["environment"].items()
            if k.startswith("DASK_")
        },
    }
    ports = {"8786": str(port), ":8787": ":0", ":8789": ":0", "dask-scheduler:": "127.0.0.1:"}
    scheduler = subprocess.Popen(
        localized(services["dask-scheduler"]["command"], certs, ports),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    try:
        wait_for_port(port, scheduler)
        worker = subprocess.Popen(
            localized(services["dask-worker"]["command"], certs, ports),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield f"tls://127.0.0.1:{port}", certs, config
    finally:
        if worker is not None:
            stop(worker)
        stop(scheduler)


def test_the_stack_client_reaches_the_tls_scheduler_and_worker(tls_cluster) -> None:
    import dask.config
    from distributed import Client

    address, _, config = tls_cluster
    with dask.config.set(config), Client(address, timeout="60s") as client:
        client.wait_for_workers(1, timeout=120)
        assert client.submit(sum, [1, 2, 3]).result(timeout=60) == 6
        assert all(w.startswith("tls://") for w in client.scheduler_info()["workers"])


def test_a_client_without_tls_is_refused(tls_cluster) -> None:
    from distributed import Client

    address, _, _ = tls_cluster
    with pytest.raises(OSError):  # reset by the scheduler, or timed out
        Client(address.replace("tls://", "tcp://"), timeout="5s")


def test_a_tls_client_without_a_certificate_is_refused(tls_cluster) -> None:
    """It trusts the CA and completes its side of the handshake; the scheduler hangs up."""
    address, certs, _ = tls_cluster
    port = int(address.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        try:
            with context.wrap_socket(raw) as tls:
                tls.sendall(b"\0" * 8)
                answer = tls.recv(1)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as refused:
            assert "certificate" in str(refused).lower() or isinstance(refused, OSError)
        else:
            assert answer == b"", "the scheduler talked to a client without a certificate"


def test_a_client_with_another_ca_certificate_is_refused(tls_cluster, tmp_path: Path) -> None:
    import dask.config
    from distributed import Client

    address, certs, config = tls_cluster
    foreign = tmp_path / "foreign"
    make_secrets.dask_tls(foreign)
    forged = {
        **config,
        "distributed.comm.tls.client.cert": str(foreign / "client.pem"),
        "distributed.comm.tls.client.key": str(foreign / "client-key.pem"),
    }
    assert set(forged) == set(config)  # the same settings, another CA's certificate
    with dask.config.set(forged), pytest.raises(OSError):
        Client(address, timeout="5s")


# --- Prefect API auth, for real --------------------------------------------------------------


@pytest.mark.slow
def test_prefect_server_refuses_requests_without_the_credentials(
    services: dict[str, dict], tmp_path: Path
) -> None:
    env_file = tmp_path / "prefect-auth.env"
    make_secrets.prefect_auth(env_file)
    credentials = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line
    )
    port = free_port()
    command = services["prefect-server"]["command"]
    command = [str(BIN / command[0]), *command[1:]]
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    env = {
        **os.environ,
        **services["prefect-server"]["environment"],
        **credentials,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_UI_ENABLED": "false",
    }
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}/api"
    try:
        wait_for_port(port, server, timeout=240)
        # The compose healthcheck's request answers without credentials…
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=10) as health:
                    assert health.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        # …the API does not,
        request = urllib.request.Request(f"{base}/flows/filter", data=b"{}", method="POST")
        request.add_header("Content-Type", "application/json")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 401
        wrong = base64.b64encode(b"migsys:guess").decode()
        request.add_header("Authorization", f"Basic {wrong}")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 401
        # …and the credentials of the env file open it.
        token = base64.b64encode(credentials["PREFECT_API_AUTH_STRING"].encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
    finally:
        stop(server)
