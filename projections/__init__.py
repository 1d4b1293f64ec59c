"""Projections of real places: forecasts that earn their place out of sample, and calibrations.

- :mod:`projections.census` — the municipal census panel (exact reference dates, counts vs
  censuses, stable geography by exclusion);
- :mod:`projections.baselines` — the extrapolations the field uses (zero, linear, exponential,
  share of state, damped trend, their average);
- :mod:`projections.damped_growth` — damped growth with count error (variogram fit, kriging);
- :mod:`projections.municipal_forecast` — the municipal forecast: kernel national drift × state
  share × municipal share;
- :mod:`projections.remittance_forecast` — annual remittances as operations × average amount,
  with its baselines (last level, drift, damped-trend ETS) and its combination with the last
  level;
- :mod:`projections.learned_correction` — the baselines' average corrected by a fit of its last
  realised errors on what the files hold (a candidate for the published method);
- :mod:`projections.methods` — the names of every method and the candidates for publication;
- :mod:`projections.selection` — the rule, fixed on the pairs up to 2010 (2012 for remittances),
  that chooses the published method (``docs/forecast_method.md``);
- :mod:`projections.intervals`, :mod:`projections.skill` — empirical calibrated intervals and
  the scores (MdAPE, MAPE, bias, direction, decline detection, CRPS, coverage, interval score);
- :mod:`projections.evaluation` — the rolling-origin evaluation of both kernels;
- :mod:`projections.forecast_refresh` — the refresh's forecast step (``refresh_forecasts``);
- :mod:`projections.backtest` — ``migsys backtest`` (every pair, or one);
- :mod:`projections.depopulation`, :mod:`projections.remittances` — the kernels' calibrations
  (``migsys calibrate``; the sweeps' parameters ``from = "calibration"``);
- :mod:`projections.inputs` — kernel unit inputs from the marts (sweeps);
- :mod:`projections.fitting` — batched least squares;
- :mod:`projections.store` — calibrations and backtest rows as files under ``MIGSYS_HOME``.
"""
