-- The remittance income Banxico publishes for a municipality that has no INEGI key here, by
-- year: each state's 'No identificado' remainder and every name the crosswalk left unmatched or
-- found ambiguous, with the line it comes from. Nothing is dropped: these are the rows of the
-- quarterly mart with a NULL cve_mun.
with quarterly as (
    select * from {{ ref('fct_municipal_remittances_quarterly') }}
    where cve_mun is null
),

crosswalk as (
    select * from {{ ref('int_banxico_municipalities_matched_to_cve_mun') }}
),

national as (
    select year, sum(remittances_usd) as national_usd
    from {{ ref('fct_municipal_remittances_quarterly') }}
    group by year
),

by_year as (
    select
        cve_ent,
        any_value(state_name) as state_name,
        municipality_name_published,
        year,
        any_value(match_status) as match_status,
        count(*) as quarters_observed,
        sum(remittances_usd) as remittances_usd
    from quarterly
    group by cve_ent, municipality_name_published, year
),

final as (
    select
        by_year.cve_ent,
        by_year.state_name,
        by_year.municipality_name_published,
        by_year.year,
        by_year.match_status,
        crosswalk.match_reason,
        crosswalk.candidate_cve_mun,
        by_year.quarters_observed,
        by_year.remittances_usd,
        100.0 * by_year.remittances_usd / nullif(national.national_usd, 0) as national_share_pct,
        crosswalk.file_name,
        crosswalk.line_number
    from by_year
    inner join crosswalk
        on crosswalk.cve_ent = by_year.cve_ent
        and crosswalk.municipality_name_published = by_year.municipality_name_published
    inner join national using (year)
)

select * from final
