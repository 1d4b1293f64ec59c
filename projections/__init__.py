"""Projections of real places: unit inputs from the warehouse, calibration and backtests."""
