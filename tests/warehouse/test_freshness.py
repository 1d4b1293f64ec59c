"""Release dates where the files state none, and staleness by the publisher's cadence."""

from __future__ import annotations

from datetime import date

import pytest

from migsys.warehouse.freshness import (
    Release,
    add_months,
    is_stale,
    period_end,
    release_of,
    stale_since,
)
from migsys.warehouse.sources import SOURCES, SOURCES_BY_ID, census_reference_dates


@pytest.mark.parametrize(
    ("period", "end"),
    [
        ("2020", date(2020, 12, 31)),
        ("2024-02", date(2024, 2, 29)),
        ("2024-12", date(2024, 12, 31)),
        ("2024-Q2", date(2024, 6, 30)),
        ("2013-Q1", date(2013, 3, 31)),
    ],
)
def test_period_end(period: str, end: date) -> None:
    assert period_end(period) == end


def test_period_end_refuses_other_keys() -> None:
    with pytest.raises(ValueError, match="'2024-W05' is not"):
        period_end("2024-W05")


def test_release_prefers_the_file_then_the_documentation_then_an_estimate() -> None:
    assert release_of("2025-01-28", "2020", 45, "2024-Q2") == Release("2025-01-28", "file")
    assert release_of("unknown", "2020-03-15", None, "2020") == Release("2020-03-15", "documented")
    estimate = release_of("unknown", None, 45, "2024-Q2")
    assert estimate == Release("2024-08-14", "estimated")
    assert estimate.describe() == "2024-08-14 (estimated)"
    assert release_of("unknown", None, 45, None) == Release("unknown", "unknown")


def test_stale_by_the_cadence_of_the_issue() -> None:
    """A census older than 10 years, remittances older than two quarters, the UN stock older
    than its 5-year editions."""
    census = SOURCES_BY_ID["inegi_census"]
    assert stale_since("2020", census.stale_after_months) == date(2030, 12, 31)
    assert not is_stale("2020", census.stale_after_months, date(2030, 12, 31))
    assert is_stale("2010", census.stale_after_months, date(2021, 1, 1))
    municipal = SOURCES_BY_ID["banxico_remittances_municipal"]
    assert stale_since("2024-Q2", municipal.stale_after_months) == date(2024, 12, 30)
    un = SOURCES_BY_ID["un_migrant_stock"]
    assert is_stale("2017", un.stale_after_months, date(2023, 1, 1))
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)


def test_every_source_has_a_release_rule_and_a_cadence() -> None:
    for source in SOURCES:
        assert source.cadence, source.id
        documented = dict(source.documented_releases)
        for file_name in source.files:
            assert file_name in documented or source.release_lag_days is not None, file_name
        if documented:
            assert source.release_documentation, source.id
    dates = census_reference_dates()
    census = dict(SOURCES_BY_ID["inegi_census"].documented_releases)
    assert census["inegi/censo_2020.csv"] == dates["2020"] == "2020-03-15"
