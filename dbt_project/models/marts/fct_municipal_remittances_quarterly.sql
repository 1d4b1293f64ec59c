-- Remittance income by municipality and quarter, every line of Banxico's municipal file below a
-- state: matched municipalities with their INEGI key, and (with a NULL key) the names the
-- crosswalk could not match and each state's 'No identificado' remainder, so that the lines of
-- a state still add up to Banxico's state row.
with remittances as (
    select * from {{ ref('stg_banxico__municipal_remittances') }}
),

crosswalk as (
    select * from {{ ref('int_banxico_municipalities_matched_to_cve_mun') }}
),

municipalities as (
    select cve_mun, municipality_name from {{ ref('dim_municipality') }}
),

states as (
    select cve_ent, state_name from {{ ref('inegi_states') }}
),

state_totals as (
    -- Banxico's state rows (the sums of their municipal lines, to the file's rounding)
    select quarter_start, state_name_published, remittances_usd as state_usd
    from remittances
    where row_kind = 'state'
),

national_totals as (
    select quarter_start, sum(state_usd) as national_usd
    from state_totals
    group by quarter_start
),

final as (
    select
        remittances.quarter_start,
        remittances.year,
        remittances.quarter,
        crosswalk.cve_ent,
        states.state_name,
        crosswalk.cve_mun,
        coalesce(municipalities.municipality_name, remittances.municipality_name_published)
            as municipality_name,
        remittances.municipality_name_published,
        crosswalk.match_status,
        remittances.remittances_usd,
        100.0 * remittances.remittances_usd / nullif(state_totals.state_usd, 0) as state_share_pct,
        100.0 * remittances.remittances_usd / nullif(national_totals.national_usd, 0)
            as national_share_pct
    from remittances
    inner join crosswalk
        on crosswalk.file_name = remittances.file_name
        and crosswalk.line_number = remittances.line_number
    left join municipalities on municipalities.cve_mun = crosswalk.cve_mun
    left join states on states.cve_ent = crosswalk.cve_ent
    left join state_totals
        on state_totals.quarter_start = remittances.quarter_start
        and state_totals.state_name_published = remittances.state_name_published
    left join national_totals on national_totals.quarter_start = remittances.quarter_start
)

select * from final
