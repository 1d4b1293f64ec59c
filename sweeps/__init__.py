"""Sensitivity studies: specs, designs, Dask fan-out, analysis, warehouse loading and export."""
