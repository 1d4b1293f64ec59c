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

from migsys.cli.help import area_app

app = area_app()

KERNEL_HELP = "depopulation | remittances"
BACKTEST_HELP = (
    "Rolling-origin evaluation: how good are the projections?\n\n"
    "An ORIGIN is the last year of data a forecast may use: a census or count year for "
    "depopulation (1995, 2000, 2005, 2010; 2020 only forecasts), a calendar year for remittances "
    "(2003 on). Every method sees only the data up to its origin. A HORIZON is the time from "
    "the origin to a TARGET year: the exact years between census reference dates for "
    "depopulation, 1 to 5 years for remittances. Without --train-until every origin/target "
    "pair the data allow is forecast by every method, all scored on the same units: the model, "
    "the baselines (zero growth, linear, exponential, share of state, the damped trend on "
    "census decades, their average; last level, drift and damped-trend ETS for remittances), "
    "and the combinations and learned correction the published method may be.\n\n"
    "The PUBLISHED method is chosen by a rule fixed on the pairs with target up to 2010 (2012 "
    "for remittances) and never re-chosen after later ones (docs/forecast_method.md); with "
    "--train-until, --out holds its forecast for every target year, observed or not.\n\n"
    "SCORES, per pair, method and size quintile at the origin: MdAPE and MAPE of the p50 (the "
    "forecast), the median log error (bias), growth-direction accuracy, depopulation detection "
    "(recall, precision, F1 of 'p50 below the origin'), the CRPS of the log level, the shares "
    "of units observed inside p05-p95 and p25-p75 (nominal 90 % and 50 %) and their interval "
    "score. Intervals come from each method's own errors at earlier origins: by size and growth "
    "class for municipalities; for remittances from every earlier error (every regime), read "
    "by the interval rule the same fixed rule chose.\n\n"
    "Examples:\n\n"
    "\b\n"
    "  migsys backtest     # every pair, both kernels\n"
    "  migsys backtest --kernel depopulation --train-until 2020 --target-years 2025,2030 \\\n"
    "      --out forecast.parquet\n\n"
    "The refresh puts the same evaluation into the marts fct_forecast_skill, "
    "fct_forecast_method_choice and fct_forecasts."
)
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


def backtest_table(rows: list[dict], title: str, published: str = "model") -> Table:
    """Rich table of skill rows (all units): the published method in bold next to the others.

    MdAPE/MAPE: median/mean absolute percentage error of the p50; bias: median log error;
    direction: share of units whose growth direction is right; CRPS of the log level; in
    p05–p95 / p25–p75: shares of units observed inside the intervals.
    """
    table = Table(title=title)
    for column in ("origin", "target", "method", "units"):
        table.add_column(column, justify="right" if column == "units" else "left", no_wrap=True)
    for column in ("MdAPE %", "MAPE %", "bias %", "direction %", "CRPS", "p05–p95 %", "p25–p75 %"):
        table.add_column(column, justify="right")
    for row in rows:
        if row.get("size_class", "all") != "all":
            continue
        crps = row.get("crps")
        table.add_row(
            str(row["origin"]),
            str(row["target_year"]),
            row["method"],
            str(row["n_units"]),
            _percent(row["mdape"]),
            _percent(row["mape"]),
            _percent(row["median_log_error"]),
            _percent(row["direction_accuracy"]),
            "—"
            if crps is None or (isinstance(crps, float) and math.isnan(crps))
            else f"{crps:.4f}",
            _percent(row["coverage_90"]),
            _percent(row["coverage_50"]),
            style="bold" if row["method"] == published else None,
        )
    return table


def coverage_table(rows: list[dict], title: str, method: str = "model") -> Table:
    """One method's p05–p95 coverage per origin/target and size quintile."""
    table = Table(title=title)
    table.add_column("origin → target")
    classes = ("all", "q1", "q2", "q3", "q4", "q5")
    for name in classes:
        table.add_column(name, justify="right")
    pairs = sorted({(r["origin"], r["target_year"]) for r in rows if r["method"] == method})
    for origin, target in pairs:
        by_class = {
            r["size_class"]: r["coverage_90"]
            for r in rows
            if r["method"] == method and (r["origin"], r["target_year"]) == (origin, target)
        }
        table.add_row(f"{origin} → {target}", *(_percent(by_class.get(c)) for c in classes))
    return table


def _fail(console: Console, message: str) -> None:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code=2)


def _publish(settings, console: Console) -> None:
    """Run the nightly flow now, so the new results reach the published warehouse."""
    from migsys.cli.nightly import run_refresh_command

    run_refresh_command(settings=settings)


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
    from migsys.settings import MigsysSettings
    from migsys.warehouse.sql import open_read_only

    console = Console()
    settings = MigsysSettings.from_env()
    paths = settings.paths
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
        _publish(settings, console)
    else:
        console.print("(loaded into main.calibrations at the next `migsys refresh`)")


@app.command(help=BACKTEST_HELP)
def backtest(
    kernel: Annotated[str, typer.Option(help=f"{KERNEL_HELP} | all")] = "all",
    train_until: Annotated[
        int | None,
        typer.Option(
            help="One origin only: the forecast uses data up to this year (needs "
            "--target-years). Without it, every origin the data allow."
        ),
    ] = None,
    target_years: Annotated[
        str | None,
        typer.Option(help="With --train-until: years to forecast, e.g. 2010 or 2011-2015."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Parquet file: with --train-until the published method's p05/p50/p95 per "
            "unit and year (observed or not); else the skill rows."
        ),
    ] = None,
    publish: Annotated[
        bool,
        typer.Option(help="Refresh the warehouse afterwards so main.backtests shows the rows."),
    ] = False,
) -> None:
    from migsys.projections.backtest import (
        check_kernel,
        run_backtest,
        run_rolling_origin,
        stamp_rows,
    )
    from migsys.projections.store import save_backtest_rows
    from migsys.settings import MigsysSettings
    from migsys.warehouse.sql import open_read_only

    console = Console()
    settings = MigsysSettings.from_env()
    paths = settings.paths
    try:
        if out is not None and out.suffix != ".parquet":
            raise ValueError(f"--out: {out} must end in .parquet")
        if train_until is not None and target_years is None:
            raise ValueError("--target-years: required with --train-until (e.g. 2010,2020)")
        if train_until is None and target_years is not None:
            raise ValueError("--target-years: only with --train-until (one origin)")
        if train_until is not None and kernel == "all":
            raise ValueError(
                "--kernel: name one kernel (depopulation or remittances) with --train-until"
            )
        check_kernel(kernel, allow_all=train_until is None)
        years = None if target_years is None else parse_years(target_years)
        con = open_read_only(paths.warehouse)
        try:
            if train_until is None:
                evaluations = run_rolling_origin(con, kernel)
            else:
                single = run_backtest(con, kernel, train_until, years)
        finally:
            con.close()
    except (ValueError, FileNotFoundError) as error:
        _fail(console, str(error))
    if train_until is None:
        frames = []
        for name, evaluation in evaluations.items():
            rows = evaluation.skill.to_dict("records")
            method = evaluation.choice.method
            console.print(backtest_table(rows, f"{name}: rolling-origin skill", method))
            console.print(
                coverage_table(
                    rows,
                    f"{name}: published method ({method}) p05–p95 coverage by size",
                    method,
                )
            )
            stamped = stamp_rows(rows) if rows else []
            if stamped:
                console.print(f"stored {save_backtest_rows(stamped, paths.home)}")
            frames.append(evaluation.skill)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            import pandas as pd

            skill = pd.concat(frames, ignore_index=True)
            skill.to_parquet(out, index=False)
            console.print(f"wrote {len(skill)} skill rows to {out}")
    else:
        console.print(
            f"published method: {single.method} (chosen on the early pairs; "
            "docs/forecast_method.md)",
            highlight=False,
        )
        if single.rows:
            title = f"{kernel}: forecast from {single.origin}"
            console.print(backtest_table(single.rows, title, single.method))
            console.print(f"stored {save_backtest_rows(single.rows, paths.home)}")
        else:
            console.print("no target year observed yet: nothing scored, nothing stored")
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            single.projections.to_parquet(out, index=False)
            console.print(f"wrote {len(single.projections)} projection rows to {out}")
    if publish:
        _publish(settings, console)
