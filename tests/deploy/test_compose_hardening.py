"""The compose stack's hardening, checked in the file and, where it can be, for real.

- Dask: TLS only, mutual certificates, one key per service. A real scheduler and worker run here
  with the exact commands and environment of docker-compose.yml (paths moved to a temporary
  folder, ports free) and certificates from deploy/make_secrets.py; a client without
  certificates, one without TLS and one with another CA's certificate are refused; the stack's
  own client gets an answer; the client's certificate cannot serve.
- Prefect: the API demands basic auth from an env file that git and the image never carry; a real
  `prefect server start` with that file refuses requests without the credentials, on a read-only
  root (the code and home bind-mounted read-only, where user namespaces allow it).
- Every service: no capabilities, no-new-privileges, read-only root, limits; the runner's
  webserver and the Dask dashboard on loopback only.
- Sources mounted read-only (and never created empty), images pinned.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import os
import re
import shlex
import shutil
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
# The role whose certificate and key each Dask service mounts at /certs, from its own volume.
ROLE_OF = {"dask-scheduler": "scheduler", "dask-worker": "worker", "migsys": "client"}


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
    # Only the one-shot init writes the certificates, and the scheduler waits for it.
    writable = {
        name: sorted(
            source
            for source, target, read_only in map(mount, service.get("volumes", []))
            if target.startswith("/certs") and not read_only
        )
        for name, service in services.items()
    }
    assert {name: found for name, found in writable.items() if found} == {
        "dask-tls-init": ["dask-tls-client", "dask-tls-scheduler", "dask-tls-worker"]
    }
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


def test_every_service_runs_with_least_privilege(
    services: dict[str, dict], raw_services: dict[str, dict]
) -> None:
    for name, service in services.items():
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("read_only") is True, f"{name}: root filesystem writable"
        assert any(t.split(":")[0] == "/tmp" for t in raw_services[name]["tmpfs"]), name
        limits = service["deploy"]["resources"]["limits"]
        assert limits["cpus"] > 0 and limits["memory"], name
        assert 0 < service["pids_limit"] <= 4096, name
        # Writes a read-only root would refuse go to a volume or /tmp instead.
        environment = service.get("environment", {})
        if name in ("migsys", "dask-worker"):
            assert environment["NUMBA_CACHE_DIR"].startswith("/var/migsys/"), name
            assert environment["MPLCONFIGDIR"].startswith("/tmp/"), name
    assert services["prefect-server"]["environment"]["PREFECT_UI_STATIC_DIRECTORY"].startswith(
        "/var/prefect/"
    )
    assert services["migsys"]["environment"]["PREFECT_HOME"].startswith("/var/migsys/")


def test_unauthenticated_endpoints_stay_inside_their_container(services: dict[str, dict]) -> None:
    """Prefect's runner webserver (with POST /shutdown) and the Dask dashboard have no auth:
    loopback only, never published. What is published authenticates (basic auth, mutual TLS)."""
    environment = services["migsys"]["environment"]
    assert environment["PREFECT_RUNNER_SERVER_HOST"] == "127.0.0.1"
    # The name is the one Prefect reads (a typo would silently leave 0.0.0.0).
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from prefect.settings import PREFECT_RUNNER_SERVER_HOST as h; print(h.value())",
        ],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.stdout.strip() == "127.0.0.1", probe.stderr
    published = {
        name: sorted(str(port).rsplit(":", 1)[1] for port in service.get("ports", []))
        for name, service in services.items()
    }
    assert {name: ports for name, ports in published.items() if ports} == {
        "prefect-server": ["4200"],
        "dask-scheduler": ["8786"],
    }
    for service in services.values():
        assert all(str(port).startswith("127.0.0.1:") for port in service.get("ports", []))
    for name, flag in (
        ("dask-scheduler", "--dashboard-address"),
        ("dask-worker", "--dashboard-address"),
    ):
        command = services[name]["command"]
        assert command[command.index(flag) + 1].startswith("127.0.0.1:"), name


def test_each_service_holds_only_its_own_key(services: dict[str, dict], tmp_path: Path) -> None:
    """make_secrets writes one folder per role with that role's key alone; each Dask service
    mounts its own role's volume and no other."""
    assert make_secrets.main(["dask-tls", str(tmp_path)]) == 0
    for role in make_secrets.ROLES:
        files = sorted(p.name for p in (tmp_path / role).iterdir())
        assert files == sorted(["ca.pem", f"{role}.pem", f"{role}-key.pem"]), files
        assert (tmp_path / role / f"{role}-key.pem").stat().st_mode & 0o777 == 0o600
    for name, role in ROLE_OF.items():
        certs = [
            (source, read_only)
            for source, target, read_only in map(mount, services[name]["volumes"])
            if target.startswith("/certs")
        ]
        assert certs == [(f"dask-tls-{role}", True)], (name, certs)
        keys = {k for k, v in services[name]["environment"].items() if v.endswith("-key.pem")}
        assert keys == {f"DASK_DISTRIBUTED__COMM__TLS__{role.upper()}__KEY"}, (name, keys)


def test_certificates_carry_only_the_usage_their_role_needs(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    make_secrets.dask_tls(tmp_path)
    usages = {}
    for role in make_secrets.ROLES:
        cert = x509.load_pem_x509_certificate((tmp_path / role / f"{role}.pem").read_bytes())
        extension = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        assert extension.critical
        usages[role] = set(extension.value)
    server, client = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    assert usages == {"scheduler": {server, client}, "worker": {server, client}, "client": {client}}


def test_the_client_certificate_cannot_serve(tmp_path: Path) -> None:
    """A TLS server presenting the client's certificate is refused by a peer that trusts the CA:
    a stolen client key cannot impersonate the scheduler."""
    import threading

    make_secrets.dask_tls(tmp_path)
    client = tmp_path / "client"
    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving.load_cert_chain(client / "client.pem", client / "client-key.pem")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn, contextlib.suppress(OSError):
            serving.wrap_socket(conn, server_side=True).close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    trusting = ssl.create_default_context(cafile=str(client / "ca.pem"))
    trusting.check_hostname = False
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        pytest.raises(ssl.SSLCertVerificationError, match="purpose"),
    ):
        trusting.wrap_socket(raw)
    thread.join(timeout=30)
    listener.close()


def test_images_are_pinned(services: dict[str, dict]) -> None:
    """An exact Python patch release and Debian release (plus a digest when one is known)."""
    (base,) = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base), base
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in services.items():
        assert service["image"] == f"migsys:{version}", f"{name}: {service['image']}"


# --- Dask TLS, for real ----------------------------------------------------------------------


def localized(command: list[str], certs: Path, ports: dict[str, str]) -> list[str]:
    """A compose command with /certs moved to ``certs`` (the service's own role folder) and
    fixed ports replaced."""
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
        key: value.replace("/certs/", f"{certs / 'client'}/")
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

    def env_of(service: str) -> dict[str, str]:
        own = certs / ROLE_OF[service]  # the service's own volume: its role's files only
        return {
            **os.environ,
            **{
                k: v.replace("/certs/", f"{own}/")
                for k, v in services[service]["environment"].items()
                if k.startswith("DASK_")
            },
        }

    ports = {
        "8786": str(port),
        "127.0.0.1:8787": "127.0.0.1:0",
        "127.0.0.1:8789": "127.0.0.1:0",
        "dask-scheduler:": "127.0.0.1:",
        "/tmp/dask-worker": str(certs.parent / "dask-worker-space"),
    }
    scheduler = subprocess.Popen(
        localized(services["dask-scheduler"]["command"], certs / "scheduler", ports),
        env=env_of("dask-scheduler"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = None
    try:
        wait_for_port(port, scheduler)
        worker = subprocess.Popen(
            localized(services["dask-worker"]["command"], certs / "worker", ports),
            env=env_of("dask-worker"),
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
    context = ssl.create_default_context(cafile=str(certs / "client" / "ca.pem"))
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
        "distributed.comm.tls.client.cert": str(foreign / "client" / "client.pem"),
        "distributed.comm.tls.client.key": str(foreign / "client" / "client-key.pem"),
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
    volume = str(tmp_path / "prefect")  # the prefect-data volume
    env = {
        **os.environ,
        **{
            key: value.replace("/var/prefect", volume)
            for key, value in services["prefect-server"]["environment"].items()
        },
        **credentials,
    }
    # A read-only root, as in the stack: the code, the environment and the home directory
    # bind-mounted read-only; only the volume and /tmp stay writable.
    read_only = [str(REPO_ROOT), str(Path(sys.prefix).resolve()), str(Path.home())]
    if shutil.which("unshare") and subprocess.run(["unshare", "-rm", "true"]).returncode == 0:
        binds = " && ".join(
            f"mount --bind -o ro {shlex.quote(path)} {shlex.quote(path)}" for path in read_only
        )
        command = ["unshare", "-rm", "sh", "-c", f"{binds} && exec {shlex.join(command)}"]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
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
        # The UI, its files rewritten into the volume (the image's copy is read-only).
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        assert any(Path(volume, "ui").rglob("index.html"))
    finally:
        stop(server)
