"""Default parameters of the projection kernels, their plausible ranges and where each comes from.

This is the one place sweeps, calibration and the kernels read parameter names, defaults and bounds.
The order of ``DEPOPULATION_PARAMETERS`` and ``REMITTANCE_PARAMETERS`` is the column order of the
``params[n_scenarios, n_params]`` matrices the batch wrappers take.

Each :class:`Parameter` carries two ranges:

* ``low``/``high`` — the *plausible* range a sweep should explore (cited in ``source``);
* ``valid_low``/``valid_high`` — the *admissible* range outside which the kernels refuse to run
  (a ``ValueError`` naming the column and the bound), e.g. a life expectancy outside the span the
  life-table solver supports, or a rate multiplier that would push a probability above 1.

Sources, abbreviated in ``source``:

* CONAPO (2002), *Proyecciones de la población de México 2000–2050* (life expectancy 2000: men
  73.1, women 77.6; total fertility 2000: 2.4, long-run assumption 1.85; mean age at childbearing
  about 27; annual net emigration to the US of 0.3–0.4 million).
* Rogers, A. and Castro, L. J. (1981), *Model Migration Schedules*, IIASA RR-81-30 (the "standard"
  schedule: peak age mu2 ≈ 20, lambda2 ≈ 0.4, alpha2 ≈ 0.1, alpha1 ≈ alpha2, a1/a2 ≈ 1/3,
  c/a2 ≈ 0.05).
* Delgado-Wise and Márquez-Covarrubias (2006), the paper in ``../shared/paper`` ("paper"):
  400,000 Mexicans a year settling abroad in 1990–95; 10.2 million Mexican-born in the US in 2004;
  USD 20 bn remittances in 2005; 1.6 million remittance-receiving households (8 %); the US/Mexico
  manufacturing wage ratio rising from 5.7 (1994) to 6.8 (2004).
* Banxico SIE remittance series and FIX exchange rate; World Bank WDI GDP; UN DESA migrant stock.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Parameter:
    """One column of a ``params`` matrix: its default, plausible sweep range and admissible range."""

    name: str
    default: float
    low: float
    high: float
    unit: str
    source: str
    description: str
    valid_low: float = -np.inf
    valid_high: float = np.inf

    def __post_init__(self) -> None:
        if not (self.valid_low <= self.low <= self.default <= self.high <= self.valid_high):
            raise ValueError(
                f"parameter {self.name!r}: need valid_low <= low <= default <= high <= valid_high, "
                f"got {self.valid_low}, {self.low}, {self.default}, {self.high}, {self.valid_high}"
            )


DEPOPULATION_PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "e0_female_base",
        77.6,
        75.0,
        80.0,
        "years",
        "CONAPO 2002 projections, life expectancy of women in 2000",
        "female life expectancy at birth in the base year",
        20.0,
        95.0,
    ),
    Parameter(
        "e0_male_base",
        73.1,
        70.0,
        76.0,
        "years",
        "CONAPO 2002 projections, life expectancy of men in 2000",
        "male life expectancy at birth in the base year",
        20.0,
        95.0,
    ),
    Parameter(
        "e0_gain",
        0.15,
        0.0,
        0.3,
        "years per year",
        "CONAPO 2002 (about +1.5 years per decade 2000–2030)",
        "linear annual gain of life expectancy (both sexes; capped at 95 years)",
        -1.0,
        1.0,
    ),
    Parameter(
        "tfr_base",
        2.4,
        2.1,
        2.8,
        "children per woman",
        "CONAPO 2002 projections, total fertility 2000",
        "total fertility rate in the base year",
        0.0,
        10.0,
    ),
    Parameter(
        "tfr_target",
        1.85,
        1.4,
        2.1,
        "children per woman",
        "CONAPO 2002 long-run fertility assumption",
        "total fertility the path converges to",
        0.0,
        10.0,
    ),
    Parameter(
        "tfr_speed",
        0.05,
        0.01,
        0.15,
        "per year",
        "CONAPO 2002 (half of the gap closed in about 14 years)",
        "exponential speed of convergence of fertility to its target",
        0.0,
        5.0,
    ),
    Parameter(
        "mean_age_childbearing",
        27.0,
        25.5,
        29.0,
        "years",
        "CONAPO 2002 projections (mean age of the fertility schedule)",
        "centre of the Gaussian age schedule of fertility (sd 6 years) over ages 15–49",
        18.0,
        40.0,
    ),
    Parameter(
        "sex_ratio_birth",
        1.05,
        1.03,
        1.07,
        "males per female",
        "UN World Population Prospects, standard sex ratio at birth",
        "male births per female birth",
        0.8,
        1.3,
    ),
    Parameter(
        "emigration_scale",
        1.0,
        0.0,
        2.5,
        "multiplier",
        "CONAPO 2000 intensity index (unit intensities are observed 1995–2000 rates)",
        "multiplier of each unit's observed crude emigration intensity",
        0.0,
        20.0,
    ),
    Parameter(
        "emigration_trend",
        -0.01,
        -0.08,
        0.04,
        "per year",
        "paper (flows peaked around 2000); range spans collapse to renewed growth",
        "exponential annual trend of emigration after the base year",
        -0.5,
        0.5,
    ),
    Parameter(
        "emigration_female_ratio",
        0.4,
        0.2,
        1.0,
        "ratio",
        "CONAPO 2000 (about 3 in 4 emigrants to the US were men)",
        "female emigration rate relative to the male rate",
        0.0,
        5.0,
    ),
    Parameter(
        "rc_peak_age",
        20.5,
        17.0,
        25.0,
        "years",
        "Rogers & Castro 1981, standard schedule mu2 ≈ 20",
        "Rogers–Castro labour-force peak location mu2",
        10.0,
        40.0,
    ),
    Parameter(
        "rc_rise",
        0.4,
        0.2,
        0.7,
        "per year",
        "Rogers & Castro 1981, standard schedule lambda2 ≈ 0.4",
        "Rogers–Castro rate of rise to the labour-force peak lambda2",
        0.01,
        2.0,
    ),
    Parameter(
        "rc_fall",
        0.1,
        0.06,
        0.16,
        "per year",
        "Rogers & Castro 1981, standard schedule alpha2 ≈ 0.1 (alpha1 = alpha2)",
        "Rogers–Castro rate of descent after the peak alpha2 (also used for alpha1)",
        0.01,
        1.0,
    ),
    Parameter(
        "rc_child_level",
        0.33,
        0.1,
        0.6,
        "ratio a1/a2",
        "Rogers & Castro 1981, standard schedule a1/a2 ≈ 1/3",
        "Rogers–Castro pre-labour-force level relative to the labour peak",
        0.0,
        5.0,
    ),
    Parameter(
        "rc_baseline_level",
        0.05,
        0.0,
        0.15,
        "ratio c/a2",
        "Rogers & Castro 1981, standard schedule c/a2 ≈ 0.05",
        "Rogers–Castro constant level relative to the labour peak",
        0.0,
        5.0,
    ),
    Parameter(
        "return_scale",
        1.0,
        0.0,
        2.0,
        "multiplier",
        "CONAPO 2000 indicator of households with return migrants",
        "multiplier of each unit's return intensity (share of emigrants who return within the step;"
        " the product is capped at 1)",
        0.0,
        100.0,
    ),
    Parameter(
        "growth_shock_sd",
        0.0,
        0.0,
        0.03,
        "per year (sd of log growth)",
        "migsys rolling-origin evaluation: municipal growth the kernel does not explain, about"
        " 0.01-0.02 a year in 1990-2000 (the calibration fits it)",
        "sd of a non-persistent shock to each unit's annual log growth: a fresh draw every step"
        " (internal migration, local booms and busts), mean one in levels; 0 = no shock",
        0.0,
        0.2,
    ),
)

REMITTANCE_PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "inflow_base",
        400_000.0,
        150_000.0,
        600_000.0,
        "persons per year",
        "paper (UN 2006: 400,000 Mexicans a year settling abroad, 1990–95)",
        "arrivals of Mexican-born to the US in the base year",
        0.0,
        1e8,
    ),
    Parameter(
        "inflow_gap_elasticity",
        1.0,
        0.0,
        2.0,
        "elasticity",
        "paper (wage gap 5.7 -> 6.8 alongside rising flows, 1994–2004)",
        "elasticity of arrivals to the US/Mexico wage ratio relative to the base year",
        -10.0,
        10.0,
    ),
    Parameter(
        "inflow_demand_elasticity",
        1.0,
        0.0,
        2.0,
        "elasticity",
        "paper (labour-export model: flows follow US labour demand)",
        "elasticity of arrivals to the US labour-demand index",
        -10.0,
        10.0,
    ),
    Parameter(
        "return_rate_initial",
        0.08,
        0.02,
        0.2,
        "per year",
        "paper (from circular to settled migration); CONAPO return indicators",
        "annual return probability in the first year after arrival",
        0.0,
        1.0,
    ),
    Parameter(
        "return_rate_decay",
        0.1,
        0.02,
        0.3,
        "per year of duration",
        "paper (settlement: returns fall with time in the US)",
        "exponential decay of the return probability with years since arrival",
        0.0,
        5.0,
    ),
    Parameter(
        "mortality_rate",
        0.004,
        0.002,
        0.008,
        "per year",
        "UN / CONAPO life tables for ages 20–50",
        "annual death probability in the first year after arrival",
        0.0,
        1.0,
    ),
    Parameter(
        "mortality_duration_growth",
        0.05,
        0.03,
        0.08,
        "per year of duration",
        "Gompertz slope of adult mortality (about 0.08 per year of age) damped by arrival-age spread",
        "exponential growth of the death probability with years since arrival (capped at 1)",
        0.0,
        0.5,
    ),
    Parameter(
        "remitter_share_initial",
        0.6,
        0.4,
        0.8,
        "fraction",
        "Banxico/CONAPO surveys of migrants (EMIF)",
        "share of recent arrivals who remit",
        0.0,
        1.0,
    ),
    Parameter(
        "remitter_share_decay",
        0.05,
        0.01,
        0.1,
        "per year of duration",
        "paper (settlement weakens ties); remittance-decay literature",
        "exponential decay of the remitting share with years since arrival",
        0.0,
        5.0,
    ),
    Parameter(
        "amount_base",
        5_000.0,
        2_500.0,
        8_000.0,
        "USD per remitter per year",
        "Banxico 2005 (USD 21.7 bn over roughly 4 million remitters)",
        "yearly amount sent by a remitter in the base year",
        0.0,
        1e6,
    ),
    Parameter(
        "amount_wage_elasticity",
        1.0,
        0.5,
        1.5,
        "elasticity",
        "issue text (amounts follow US wages)",
        "elasticity of the amount per remitter to the US wage index",
        -10.0,
        10.0,
    ),
    Parameter(
        "households_per_remitter",
        0.45,
        0.3,
        0.9,
        "households per remitter",
        "paper (1.6 million receiving households, CONAPO 2004b) over Banxico-implied remitters",
        "remittance-receiving households per remitter in the US (capped at all households)",
        0.0,
        10.0,
    ),
    Parameter(
        "us_wage_growth",
        0.01,
        0.0,
        0.03,
        "per year",
        "paper table 2 (US manufacturing wage 12.0 -> 16.2 USD/h 1994–2004, nominal)",
        "growth of the US wage index beyond its data",
        -0.5,
        0.5,
    ),
    Parameter(
        "mx_wage_growth",
        0.01,
        -0.01,
        0.04,
        "per year",
        "paper table 2 (Mexican manufacturing wage 2.1 -> 2.5 USD/h 1994–2004)",
        "growth of the Mexican wage/income index beyond its data",
        -0.5,
        0.5,
    ),
    Parameter(
        "labour_demand_growth",
        0.01,
        -0.02,
        0.03,
        "per year",
        "US BLS employment growth (paper: manufacturing 17.1 -> 14.2 million)",
        "growth of the US labour-demand index beyond its data",
        -0.5,
        0.5,
    ),
    Parameter(
        "gdp_growth",
        0.04,
        0.0,
        0.07,
        "per year",
        "World Bank WDI, Mexican GDP in current USD 1995–2015",
        "growth of Mexican GDP in USD beyond its data",
        -0.5,
        0.5,
    ),
    Parameter(
        "households_growth",
        0.02,
        0.005,
        0.03,
        "per year",
        "INEGI censuses 2000–2010 (households grew about 2 % a year)",
        "growth of the number of Mexican households beyond its data",
        -0.5,
        0.5,
    ),
    Parameter(
        "fx_growth",
        0.03,
        -0.02,
        0.08,
        "per year",
        "Banxico FIX 1995–2015 (average depreciation of the peso)",
        "growth of the USD/MXN rate beyond its data",
        -0.5,
        0.5,
    ),
)


def parameter_names(parameters: tuple[Parameter, ...]) -> tuple[str, ...]:
    """Names of ``parameters`` in column order."""
    return tuple(parameter.name for parameter in parameters)


def parameter_index(parameters: tuple[Parameter, ...], name: str) -> int:
    """Column of ``name`` in a ``params`` matrix built from ``parameters``."""
    names = parameter_names(parameters)
    if name not in names:
        raise ValueError(f"unknown parameter {name!r}; known: {', '.join(names)}")
    return names.index(name)


def default_params(parameters: tuple[Parameter, ...], n: int = 1) -> np.ndarray:
    """``n`` identical rows of the defaults, shape ``(n, len(parameters))``, float64."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    row = np.array([parameter.default for parameter in parameters], dtype=np.float64)
    return np.tile(row, (n, 1))


def parameter_bounds(parameters: tuple[Parameter, ...]) -> np.ndarray:
    """Plausible ``[low, high]`` per parameter, shape ``(n_params, 2)`` (SALib ``bounds`` order)."""
    return np.array([[parameter.low, parameter.high] for parameter in parameters], dtype=np.float64)


def valid_bounds(parameters: tuple[Parameter, ...]) -> np.ndarray:
    """Admissible ``[valid_low, valid_high]`` per parameter, shape ``(n_params, 2)``."""
    return np.array(
        [[parameter.valid_low, parameter.valid_high] for parameter in parameters], dtype=np.float64
    )
