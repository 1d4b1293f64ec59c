"""Words people read instead of the warehouse's column, study and series names."""

from __future__ import annotations

import pandas as pd

from migsys.warehouse.sources import SOURCES_BY_ID

DEGREE_LABELS: dict[str, str] = {
    "very_high": "Very high",
    "high": "High",
    "medium": "Medium",
    "low": "Low",
    "very_low": "Very low",
    "null": "Null",
}

COLUMN_LABELS: dict[str, str] = {
    "intensity_degree": "Migration intensity degree",
    "intensity_degree_2000": "Migration intensity degree (2000)",
    "municipalities": "Municipalities",
    "municipalities_pct": "Municipalities (%)",
    "population": "Population",
    "population_pct": "Population (%)",
    "households": "Households",
    "households_pct": "Households (%)",
    "period": "Census period",
    "depopulating_municipalities": "Depopulating municipalities",
    "depopulating_pct": "Depopulating (%)",
    "parameter": "Parameter",
    "s1": "First-order index S1",
    "s1_conf": "S1 ± (95 %)",
    "st": "Total index ST",
    "st_conf": "ST ± (95 %)",
    "claim": "Claim",
    "location": "Where in the paper",
    "paper_value": "Paper's figure",
    "unit": "Unit",
    "status": "Verdict",
    "explanation": "Why",
    "source": "Source",
    "publisher": "Publisher",
    "period_covered": "Period the data cover",
    "release_date": "Release date",
    "origin": "Loaded from",
    "rows_loaded": "Rows loaded",
    "rows_rejected": "Rows rejected",
    "study": "Study",
    "kernel": "Model",
    "design": "Design",
    "description": "What it explores",
    "n_scenarios": "Scenarios",
    "finished_at": "Finished",
}

# How a kept yearly series reads in a legend.
SERIES_LABELS: dict[str, str] = {
    "remittances_usd": "remittance income (USD)",
    "remittances_pct_gdp": "remittances as % of GDP",
    "migrant_stock": "Mexican-born population in the US",
    "population": "population",
}


def humanize(name: str) -> str:
    """'remittances-nightly' -> 'Remittances nightly' (for names no table explains)."""
    words = str(name).replace("_", " ").replace("-", " ").split()
    return " ".join(words)[:1].upper() + " ".join(words)[1:] if words else str(name)


def column_label(name: str) -> str:
    return COLUMN_LABELS.get(name, humanize(name))


def series_label(series: str) -> str:
    return SERIES_LABELS.get(series, humanize(series))


def source_title(source_id: str) -> str:
    """'Banxico: Ingresos y egresos por remesas, mensual' for a registered source id."""
    source = SOURCES_BY_ID.get(source_id)
    if source is None:
        return humanize(source_id)
    return f"{source.publisher_short or source.publisher}: {source.title}"


def degree_label(degree: object) -> object:
    return DEGREE_LABELS.get(degree, degree) if isinstance(degree, str) else degree


def with_labels(frame: pd.DataFrame, degree_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A copy with degree codes spelled out and column names people read."""
    labelled = frame.copy()
    for column in degree_columns:
        if column in labelled:
            labelled[column] = labelled[column].map(degree_label)
    return labelled.rename(columns=column_label)
