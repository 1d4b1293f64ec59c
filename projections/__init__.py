"""Projections of real places: unit inputs from the warehouse, calibration and backtests.

- :mod:`projections.inputs` — kernel inputs from the marts (municipal units, Table 1 degree units,
  the national remittance paths);
- :mod:`projections.depopulation`, :mod:`projections.remittances` — each kernel's calibration
  method and its ensemble projection (p05/p50/p95);
- :mod:`projections.calibration` — ``migsys calibrate``'s entry point;
- :mod:`projections.backtest` — ``migsys backtest``: the model next to naive baselines
  (:mod:`projections.metrics`);
- :mod:`projections.fitting` — batched least squares, posterior ensembles, shrinkage;
- :mod:`projections.store` — results as files under ``MIGSYS_HOME`` and their loading into the
  warehouse tables ``main.calibrations`` and ``main.backtests`` at each refresh.
"""
