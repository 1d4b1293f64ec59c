"""The bench's own study specs pass the limits every spec must pass (a refused spec would only
show up in `make bench`, minutes into it)."""

from __future__ import annotations

import pytest

from migsys.bench import sweeps as sweeps_bench


@pytest.mark.parametrize("n", [512, 1024, 262144, 1048576])
def test_bench_remittance_specs_are_valid(n: int) -> None:
    spec = sweeps_bench._remittance_spec("bench", n, 16384, (2005, 2030))
    assert spec.n_scenarios == n * (len(sweeps_bench.REMITTANCE_SWEPT) + 2)


def test_an_unknown_bench_module_is_named_before_anything_runs(tmp_path, monkeypatch, capsys):
    from migsys.bench.__main__ import main

    monkeypatch.setenv("MIGSYS_HOME", str(tmp_path))
    assert main(["projection"]) == 2
    assert "no benchmark module 'migsys.bench.projection'" in capsys.readouterr().err
    assert not (tmp_path / "bench" / "latest.json").exists()
