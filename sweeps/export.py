"""Export a study's yearly series in the IAMC long format that pyam reads.

Columns: model, scenario, region, variable, unit, year, value. By default the quantile bands
(scenario ``<study>|p05`` …); ``all_scenarios=True`` streams every scenario part by part.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq

from migsys.sweeps import store
from migsys.sweeps.analysis import series_quantile_rows, verified_study
from migsys.sweeps.models import series_column
from migsys.sweeps.spec import SpecError
from migsys.warehouse import files

IAMC_COLUMNS = ("model", "scenario", "region", "variable", "unit", "year", "value")


def _series_outputs(record: dict) -> list[dict]:
    series = [o for o in record["outputs"] if o["kind"] == "series"]
    if not series:
        raise SpecError(
            f"study {record['name']}: no yearly series kept (kernel {record['kernel']}); "
            "IAMC export needs at least one series output"
        )
    return series


def _model_name(record: dict) -> str:
    return f"migsys-{record.get('code_version') or record['kernel']}"


def export_iamc(root: Path, name: str, output: Path, *, all_scenarios: bool = False) -> Path:
    """Write the IAMC CSV of study ``name`` under ``root`` to ``output``; returns ``output``."""
    directory = store.study_dir(root, name)
    check = verified_study(root, name)
    record = check.record
    parts = check.part_files()
    series = _series_outputs(record)
    by_name = {o["name"]: o for o in series}
    model = _model_name(record)
    with (
        files.atomic_path(output) as staged,
        open(staged, "w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(IAMC_COLUMNS)
        if all_scenarios:
            _write_all_scenarios(writer, parts, record, series, model)
        else:
            quantiles = (
                record["spec"].get("analysis", {}).get("quantiles", [0.05, 0.25, 0.5, 0.75, 0.95])
            )
            for row in series_quantile_rows(directory, name, record, tuple(quantiles), parts):
                out = by_name[row["series"]]
                scenario = f"{name}|p{round(row['quantile'] * 100):02d}"
                writer.writerow(
                    (
                        model,
                        scenario,
                        out["region"],
                        out["variable"],
                        out["unit"],
                        row["year"],
                        repr(row["value"]),
                    )
                )
    return output


def _write_all_scenarios(
    writer, parts: list[Path], record: dict, series: list[dict], model: str
) -> None:
    """One part at a time, so memory stays one chunk whatever the study size."""
    for part in parts:
        columns = ["scenario_id"] + [
            series_column(o["name"], y) for o in series for y in o["years"]
        ]
        table = pq.read_table(part, columns=columns)
        ids = table.column("scenario_id").to_pylist()
        for out in series:
            for year in out["years"]:
                values = table.column(series_column(out["name"], year)).to_pylist()
                for scenario_id, value in zip(ids, values, strict=True):
                    writer.writerow(
                        (
                            model,
                            f"{record['name']}|{scenario_id}",
                            out["region"],
                            out["variable"],
                            out["unit"],
                            year,
                            repr(value),
                        )
                    )
