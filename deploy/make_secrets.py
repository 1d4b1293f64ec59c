"""Secrets of the docker-compose stack: the Prefect API credentials and the Dask TLS certificates.

    .venv/bin/python deploy/make_secrets.py prefect-auth deploy/secrets/prefect-auth.env
    python deploy/make_secrets.py dask-tls DIR

``prefect-auth`` writes an env file (mode 0600, git- and docker-ignored) with one random
``user:password`` as both ``PREFECT_SERVER_API_AUTH_STRING`` (the server demands it) and
``PREFECT_API_AUTH_STRING`` (clients send it). ``dask-tls`` writes a private CA and one
certificate per role — scheduler, worker, client — signed by it, each role in its own folder
``DIR/<role>/`` holding ``ca.pem``, ``<role>.pem`` and ``<role>-key.pem`` (mode 0600) and no other
role's key; the scheduler then accepts only peers presenting a certificate of that CA. In the
stack, the one-shot service ``dask-tls-init`` writes each folder into that role's volume, and each
service mounts its own. The client's certificate is good for client authentication only; the
scheduler's and the workers' for both (each also opens connections to the other). Both commands
keep what exists (run them again safely) unless ``--force``.

Only the standard library, ``cryptography`` (installed with Prefect) and migsys's own file-safety
module are used, so the script runs in the image and on any host with the project's environment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import secrets
import sys
from pathlib import Path

from migsys.warehouse.files import atomic_write_bytes

ROLES = ("scheduler", "worker", "client")
# What each role's certificate may be used for: servers accept connections, clients open them.
# The scheduler also connects to workers (gather, broadcast, retire) and workers to each other.
USAGES = {"scheduler": ("server", "client"), "worker": ("server", "client"), "client": ("client",)}
# Names the scheduler is reached by: the compose service name, and the host's published port.
SCHEDULER_NAMES = ("dask-scheduler", "localhost")
CERT_DAYS = 825  # the longest validity clients commonly accept for a leaf certificate
AUTH_USER = "migsys"


def write_private(path: Path, data: bytes) -> None:
    """Create or replace ``path`` readable by its owner only, from the first byte, atomically."""
    atomic_write_bytes(path, data, mode=0o600)


def prefect_auth(env_file: Path, *, force: bool = False) -> bool:
    """Write the Prefect credentials env file; False if it exists and ``force`` is not set."""
    if env_file.exists() and not force:
        return False
    credentials = f"{AUTH_USER}:{secrets.token_urlsafe(32)}"
    text = (
        "# Prefect API basic auth for docker-compose (python deploy/make_secrets.py prefect-auth).\n"
        "# Never commit this file. Clients outside the stack need PREFECT_API_AUTH_STRING too.\n"
        f"PREFECT_SERVER_API_AUTH_STRING={credentials}\n"
        f"PREFECT_API_AUTH_STRING={credentials}\n"
    )
    write_private(env_file, text.encode())
    return True


def dask_tls(folder: Path, *, force: bool = False, days: int = CERT_DAYS) -> bool:
    """Write a CA and a certificate per role into ``folder``; False if they all exist already."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    files = [folder / r / f for r in ROLES for f in ("ca.pem", f"{r}.pem", f"{r}-key.pem")]
    if all(f.exists() for f in files) and not force:
        return False
    now = dt.datetime.now(dt.UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "migsys"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )

    def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("migsys dask CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    usage_oids = {
        "server": ExtendedKeyUsageOID.SERVER_AUTH,
        "client": ExtendedKeyUsageOID.CLIENT_AUTH,
    }
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    for role in ROLES:
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(f"dask-{role}")]
        if role == "scheduler":
            names = [x509.DNSName(n) for n in SCHEDULER_NAMES]
            names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(f"dask-{role}"))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([usage_oids[usage] for usage in USAGES[role]]),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        own = folder / role
        own.mkdir(parents=True, exist_ok=True)
        write_private(own / f"{role}-key.pem", pem_key(key))
        (own / f"{role}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (own / "ca.pem").write_bytes(ca_pem)
    # The CA's own key is not kept: new certificates mean a new CA (run again with --force).
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python deploy/make_secrets.py",
        description="Create the secrets of the docker-compose stack (see docs/deploy.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    auth = commands.add_parser("prefect-auth", help="Prefect API basic-auth env file")
    auth.add_argument(
        "env_file", type=Path, nargs="?", default=Path("deploy/secrets/prefect-auth.env")
    )
    tls = commands.add_parser("dask-tls", help="CA and certificates for Dask TLS")
    tls.add_argument("folder", type=Path)
    for sub in (auth, tls):
        sub.add_argument("--force", action="store_true", help="replace what exists")
    args = parser.parse_args(argv)
    if args.command == "prefect-auth":
        made = prefect_auth(args.env_file, force=args.force)
        where = args.env_file
    else:
        made = dask_tls(args.folder, force=args.force)
        where = args.folder
    print(f"{'wrote' if made else 'kept the existing'} {args.command} secrets in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
