"""DuckDB warehouse: source registry, ingest of published files, dbt build and atomic publish."""
