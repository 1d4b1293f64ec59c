"""``migsys calibrate`` and ``migsys backtest``: the kernels against the real data.

Both read the published warehouse read-only and keep their results as files under
``MIGSYS_HOME`` (``calibrations/``, ``backtests/``); the next refresh loads them into the
warehouse tables ``main.calibrations`` and ``main.backtests`` (``--publish`` runs it right away).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

KERNEL_HELP = "depopulation | remittances"
_YEAR_RANGE = re.compile(r"^(\d{4})\s*-\s*(\d{4})$")


def parse_years(text: str, argument: str = "--target-years") -> list[int]:
    """Years from '2010', '2011,2012' or '2011-2015' (inclusive ranges may be mixed with commas)."""
    years: list[int] = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        span = _YEAR_RANGE.match(part)
        if span:
            first, last = int(span.group(1)), int(span.group(2))
            if last < first:
                raise ValueError(f"{argument}: range {part!r} runs backwards")
            years.extend(range(first, last + 1))
        elif part.isdigit() and len(part) == 4:
            years.append(int(part))
        else:
            raise ValueError(
                f"{argument}: {part!r} is not a year; use e.g. 2010 or 2011,2012 or 2011-2015"
            )
    if not years:
        raise ValueError(f"{argument}: give at least one year (e.g. 2010 or 2011-2015)")
    return sorted(set(years))


def _percent(value: float | None) -> str:
    return (
        "—"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{100 * value:.1f}"
    )


def calibration_table(calibration) -> Table:
    """Rich table of a calibration's parameters (fitted ones in bold, with their standard error)."""
    table = Table(
        title=(
            f"{calibration.kernel} calibration {calibration.calibration_id} "
            f"(train until {calibration.train_until})"
        )
    )
    table.add_column("parameter")
    table.add_column("value", justify="right")
    table.add_column("std. error", justify="right")
    for name, value in calibration.parameters.items():
        sd = calibration.parameter_sd.get(name)
        table.add_row(
            f"[bold]{name}[/]" if sd is not None else name,
            f"{value:.6g}",
            "" if sd is None else f"{sd:.3g}",
        )
    return table


def calibration_summary(calibration) -> str:
    """Fit statistics, data years and method of a calibration, as console text."""
    fit = calibration.fit
    return (
        f"fit: RMSE {fit.rmse:.4g}, MAPE {100 * fit.mape:.1f} %, R² {fit.r2:.3f}, "
        f"n = {fit.n_obs} ({fit.target})\n"
        f"data years: {', '.join(map(str, calibration.data_years))}\n"
        f"method: {calibration.method}"
    )


def backtest_table(rows: list[dict]) -> Table:
    """Rich table of backtest scores, the model next to its baselines.

    MdAPE/MAPE: median/mean absolute percentage error; sign ok: share of units on the observed
    side of 'depopulating'; in p05–p95: share of units observed inside the model's interval.
    """
    first = rows[0]
    table = Table(
        title=f"{first['kernel']} backtest {first['backtest_id']} (trained until {first['train_until']})"
    )
    table.add_column("year")
    table.add_column("method", no_wrap=True)
    table.add_column("units", justify="right")
    for column in ("MdAPE %", "MAPE %", "sign ok %", "in p05–p95 %"):
        table.add_column(column, justify="right")
    for row in rows:
        style = "bold" if row["method"] == "model" else None
        table.add_row(
            str(row["target_year"]),
            row["method"],
            str(row["n_units"]),
            _percent(row["median_ape"]),
            _percent(row["mean_ape"]),
            _percent(row["sign_share"]),
            _percent(row["interval_coverage"]),
            style=style,
        )
    return table


def _fail(console: Console, message: str) -> None:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code=2)


def _publish(paths, console: Console) -> None:
    """Run the nightly flow now, so the new results reach the published warehouse."""
    from migsys.flows.cli_nightly import run_refresh_command

    run_refresh_command(paths=paths)


def register(app: typer.Typer) -> None:
    """Add ``calibrate`` and ``backtest`` to the migsys app."""

    @app.command()
    def calibrate(
        kernel: Annotated[str, typer.Option(help=f"{KERNEL_HELP} | all")] = "all",
        train_until: Annotated[
            int | None, typer.Option(help="Last data year the fit may use (default: all the data).")
        ] = None,
        publish: Annotated[
            bool,
            typer.Option(help="Refresh the warehouse afterwards so main.calibrations shows them."),
        ] = False,
    ) -> None:
        """Fit the kernels' base parameters to the real data; print and store them."""
        from migsys.projections.calibration import calibrate as run_calibration
        from migsys.projections.store import save_calibration
        from migsys.warehouse.paths import MigsysPaths
        from migsys.warehouse.sql import open_read_only

        console = Console()
        paths = MigsysPaths.from_env()
        try:
            con = open_read_only(paths.warehouse)
            try:
                calibrations = run_calibration(con, kernel, train_until)
            finally:
                con.close()
        except (ValueError, FileNotFoundError) as error:
            _fail(console, str(error))
        for calibration in calibrations:
            console.print(calibration_table(calibration))
            console.print(calibration_summary(calibration), highlight=False)
            console.print(f"stored {save_calibration(calibration, paths.home)}")
        if publish:
            _publish(paths, console)
        else:
            console.print("(loaded into main.calibrations at the next `migsys refresh`)")

    @app.command()
    def backtest(
        kernel: Annotated[str, typer.Option(help=KERNEL_HELP)],
        train_until: Annotated[int, typer.Option(help="Calibrate with data up to this year only.")],
        target_years: Annotated[
            str, typer.Option(help="Years to project and score: 2010 or 2011,2012 or 2011-2015.")
        ],
        out: Annotated[
            Path | None,
            typer.Option(help="Write the projections (p05/p50/p95) to this Parquet file."),
        ] = None,
        draws: Annotated[int, typer.Option(min=1, help="Ensemble size for the p05/p50/p95.")] = 200,
        seed: Annotated[int, typer.Option(help="Seed of the ensemble.")] = 0,
        publish: Annotated[
            bool,
            typer.Option(help="Refresh the warehouse afterwards so main.backtests shows the rows."),
        ] = False,
    ) -> None:
        """Calibrate up to a year, project later years, score against what was observed."""
        from migsys.projections.backtest import run_backtest
        from migsys.projections.calibration import check_kernel
        from migsys.projections.store import save_backtest_rows, save_calibration
        from migsys.warehouse.paths import MigsysPaths
        from migsys.warehouse.sql import open_read_only

        console = Console()
        paths = MigsysPaths.from_env()
        try:
            check_kernel(kernel)
            years = parse_years(target_years)
            if out is not None and out.suffix != ".parquet":
                raise ValueError(f"--out: {out} must end in .parquet")
            con = open_read_only(paths.warehouse)
            try:
                result = run_backtest(con, kernel, train_until, years, draws=draws, seed=seed)
            finally:
                con.close()
        except (ValueError, FileNotFoundError) as error:
            _fail(console, str(error))
        console.print(backtest_table(result.rows))
        save_calibration(result.calibration, paths.home)
        console.print(f"stored {save_backtest_rows(result.rows, paths.home)}")
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            result.projections.to_parquet(out, index=False)
            console.print(f"wrote {len(result.projections)} projection rows to {out}")
        if publish:
            _publish(paths, console)
