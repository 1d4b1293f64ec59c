"""A finished study as pandas DataFrames, for notebooks: ``migsys.study(name)``.

>>> import migsys
>>> s = migsys.study("ishigami-sobol")            # reads MIGSYS_HOME/sweeps/ishigami-sobol
>>> s.scenarios.head()                             # scenario_id + one column per swept parameter
>>> s.outcomes.describe()                          # scenario_id + one column per scalar outcome
>>> s.sensitivity.query("index == 'ST'")           # Sobol / Morris / RBD-FAST indices
>>> s.bands                                        # quantile bands of the yearly series
>>> s.series("remittances_usd")                    # one row per scenario, one column per year

Only studies whose results verify are read (see ``migsys sweep status``). Nothing is written:
when the stored analysis is missing or belongs to older results, it is computed in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from migsys.sweeps import store
from migsys.sweeps.analysis import (
    ARROW_SCHEMAS,
    Analysis,
    analyze_study,
    read_analysis_meta,
    stored_spec,
    verified_study,
)
from migsys.sweeps.models import series_column
from migsys.sweeps.spec import SpecError, StudySpec


@dataclass(frozen=True)
class Study:
    """One verified study: its spec, stored record and results as DataFrames."""

    name: str
    directory: Path
    spec: StudySpec  # as run (calibration resolved)
    record: dict = field(repr=False)
    scenarios: pd.DataFrame = field(repr=False)
    outcomes: pd.DataFrame = field(repr=False)
    sensitivity: pd.DataFrame = field(repr=False)
    bands: pd.DataFrame = field(repr=False)
    prim_boxes: pd.DataFrame = field(repr=False)
    warnings: tuple[str, ...] = ()
    parts: tuple[Path, ...] = field(default=(), repr=False)

    @property
    def kernel(self) -> str:
        return self.spec.kernel

    @property
    def n_scenarios(self) -> int:
        return int(self.record["n_scenarios"])

    @property
    def fixed_parameters(self) -> dict[str, float]:
        return dict(self.record.get("fixed_parameters", {}))

    @property
    def series_names(self) -> list[str]:
        return [o["name"] for o in self.record["outputs"] if o["kind"] == "series"]

    def series(self, name: str) -> pd.DataFrame:
        """Every scenario's path of a kept yearly series: index scenario_id, one column per year."""
        output = next((o for o in self.record["outputs"] if o["name"] == name), None)
        if output is None or output["kind"] != "series":
            raise KeyError(
                f"study {self.name}: no kept series {name!r} (series: {', '.join(self.series_names)})"
            )
        columns = [series_column(name, year) for year in output["years"]]
        frame = _read(self.parts, ["scenario_id", *columns]).set_index("scenario_id")
        frame.columns = [int(year) for year in output["years"]]
        frame.columns.name = "year"
        return frame


def _read(parts: tuple[Path, ...] | list[Path], columns: list[str]) -> pd.DataFrame:
    table = ds.dataset([str(p) for p in parts], format="parquet").to_table(columns=columns)
    return table.sort_by("scenario_id").to_pandas()


def _analysis(check: store.StudyCheck, spec: StudySpec, root: Path) -> Analysis:
    study = store.StudyDir(check.directory)
    meta = read_analysis_meta(study)
    if meta is not None and meta.get("fingerprint") == check.fingerprint:
        tables = {
            name: pd.read_parquet(study.analysis / f"{name}.parquet")
            for name in ("sensitivity", "series_quantiles", "prim_boxes", "prim_trajectories")
            if (study.analysis / f"{name}.parquet").exists()
        }
        return Analysis(spec.name, warnings=list(meta.get("warnings", [])), **tables)
    computed = analyze_study(root, spec, write=False)
    # The same column types as the stored tables (through their Arrow schemas).
    tables = {
        name: pa.Table.from_pandas(
            getattr(computed, name), schema=schema, preserve_index=False
        ).to_pandas()
        for name, schema in ARROW_SCHEMAS.items()
    }
    return Analysis(computed.study, warnings=computed.warnings, **tables)


def study(name: str, home: Path | str) -> Study:
    """Load study ``name`` from the MIGSYS_HOME folder ``home`` (``migsys.study`` finds it).

    Raises ``migsys.sweeps.spec.SpecError`` (a ``ValueError``) when the study was never run or
    its results do not verify.
    """
    root = Path(home) / "sweeps"
    store.study_dir(root, name)  # a name, never a path out of the sweeps folder
    if not (root / name).is_dir():
        known = (
            sorted(p.name for p in root.glob("*") if (p / store.STUDY_FILE).is_file())
            if root.is_dir()
            else []
        )
        raise SpecError(
            f"study {name}: no results under {root / name}"
            + (f" (studies there: {', '.join(known)})" if known else "")
        )
    check = verified_study(root, name)
    spec = stored_spec(check)
    parts = tuple(check.part_files())
    record = check.record
    scalars = [o["name"] for o in record["outputs"] if o["kind"] == "scalar"]
    analysis = _analysis(check, spec, root)
    return Study(
        name=name,
        directory=check.directory,
        spec=spec,
        record=record,
        scenarios=_read(parts, ["scenario_id", *spec.swept_names]),
        outcomes=_read(parts, ["scenario_id", *scalars]),
        sensitivity=analysis.sensitivity,
        bands=analysis.series_quantiles,
        prim_boxes=analysis.prim_boxes,
        warnings=tuple(analysis.warnings),
        parts=parts,
    )
