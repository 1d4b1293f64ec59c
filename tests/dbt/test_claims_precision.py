"""Claims are judged at the precision the paper prints them (issue 8, item 7).

Built on the paper's seeds alone (no source file): the checks within the paper's own figures need
no data, and that is where printed precision matters most.
"""

from __future__ import annotations

import duckdb
import pytest

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]


@pytest.fixture(scope="module")
def claims(paper_only_home) -> dict[str, tuple]:
    """The claims mart of the session's paper-only warehouse (seeds alone, every model, every
    test and unit test of ``dbt build`` passed)."""
    con = duckdb.connect(str(paper_only_home.warehouse), read_only=True)
    try:
        rows = con.execute(
            "select claim_id, status, paper_low, paper_high, recomputed_value, recomputed_low, "
            "recomputed_high, explanation from fct_paper_claims_check"
        ).fetchall()
    finally:
        con.close()
    return {row[0]: row[1:] for row in rows}


def test_wage_ratio_printed_as_6_8_is_judged_by_the_rounding_of_16_2_and_2_5(claims) -> None:
    status, paper_low, paper_high, value, low, high, explanation = claims["nafta_wage_ratio_2004"]
    assert status == "inconsistent"  # although 6.48 is within 5 % of 6.8
    assert (paper_low, paper_high) == pytest.approx((6.75, 6.85))
    assert value == pytest.approx(16.2 / 2.5)
    assert (low, high) == pytest.approx((16.15 / 2.55, 16.25 / 2.45))
    assert "the paper prints 6.8 (6.75 to 6.85) but its own printed figures allow 6.33 to 6.63" in (
        explanation
    )


def test_a_ratio_of_a_whole_number_keeps_its_wider_interval(claims) -> None:
    # 1994: the paper prints 12 (not 12.0) and 2.1: 11.5 / 2.15 to 12.5 / 2.05 contains 5.7.
    status, *_, low, high, explanation = claims["nafta_wage_ratio_1994"]
    assert status == "consistent"
    assert (low, high) == pytest.approx((11.5 / 2.15, 12.5 / 2.05))
    assert "allow 5.35 to 6.10" in explanation


def test_sums_and_differences_of_printed_figures(claims) -> None:
    # 14.2 + 1.7 million: 14.15 + 1.65 to 14.25 + 1.75
    *_, low, high, _ = claims["impact_amplified_manufacturing_workers"]
    assert (low, high) == pytest.approx((15.8e6, 16.0e6))
    # 100 * (14.2 / 17.1 - 1): the extremes pair the low numerator with the high denominator
    status, *_, low, high, _ = claims["impact_manufacturing_employment_fall_pct"]
    assert (low, high) == pytest.approx((100 * (14.15 / 17.15 - 1), 100 * (14.25 / 17.05 - 1)))
    assert status == "consistent"


def test_text_against_its_own_table_at_one_decimal(claims) -> None:
    status, *_, low, high, explanation = claims["social_university_pct"]
    assert status == "inconsistent" and (low, high) == pytest.approx((4.55, 4.65))
    assert "the paper prints 5.5 (5.45 to 5.55)" in explanation


def test_claims_needing_absent_sources_stay_unjudged(claims) -> None:
    status, *_, value, low, high, explanation = claims["nafta_remittances_2005_usd"]
    assert (status, value, low, high) == ("not_checkable", None, None, None)
    assert "source files not loaded (banxico_remittances_monthly)" in explanation
