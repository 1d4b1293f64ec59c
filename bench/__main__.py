"""``make bench``: run every benchmark module and write ``MIGSYS_HOME/bench/latest.json``.

Each module's ``collect(settings)`` returns ``{metric name: metric(...)}``; ``settings`` is the
environment, read here once (``migsys.settings.MigsysSettings``). A module that fails is reported
and the others still run; the file then lists the failure under ``errors``.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback

from migsys.settings import MigsysSettings
from migsys.warehouse.files import atomic_write_text

MODULES = (
    "migsys.bench.warehouse",
    "migsys.bench.kernels",
    "migsys.bench.projections",
    "migsys.bench.sweeps",
    "migsys.bench.nightly",
    "migsys.bench.daily_use",
)


def main(argv: list[str]) -> int:
    # `python -m migsys.bench projections` runs one module by its short name
    selected = [name if "." in name else f"migsys.bench.{name}" for name in argv] or list(MODULES)
    unknown = [name for name in selected if name not in MODULES]
    if unknown:
        short = ", ".join(name.rsplit(".", 1)[1] for name in MODULES)
        print(f"bench: no benchmark module {unknown[0]!r} (modules: {short})", file=sys.stderr)
        return 2
    settings = MigsysSettings.from_env()
    paths = settings.paths
    paths.bench.mkdir(parents=True, exist_ok=True)
    out = paths.bench / "latest.json"
    results: dict[str, dict] = json.loads(out.read_text()) if out.is_file() and argv else {}
    # A module run again replaces its earlier failure; the others' failures stay listed.
    earlier: dict[str, str] = results.pop("errors", {})
    errors = {name: trace for name, trace in earlier.items() if name not in selected}
    for name in selected:
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            metrics = importlib.import_module(name).collect(settings)
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            errors[name] = traceback.format_exc()
            print(errors[name], file=sys.stderr)
            continue
        results.update(metrics)
        for key, m in metrics.items():
            target = "" if m["target"] is None else f" (target {m['target']:g})"
            print(f"   {key} = {m['value']:.4g} {m['unit']}{target}", flush=True)
        print(f"   [{time.perf_counter() - start:.0f} s]", flush=True)
    document = dict(sorted(results.items()))
    if errors:
        document["errors"] = errors
    atomic_write_text(out, json.dumps(document, indent=2))
    print(f"wrote {out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
