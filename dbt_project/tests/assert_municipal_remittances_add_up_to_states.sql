-- Every line of a state in fct_municipal_remittances_quarterly (matched municipalities, unmatched
-- names, 'No identificado') must add up to Banxico's state row, every quarter, to the file's
-- rounding: each value is published to the dollar, so n lines and their total may differ by
-- (n + 1) half dollars. A line lost by the crosswalk or a join shows up here.
with lines as (
    select cve_ent, quarter_start, count(*) as n_lines, sum(remittances_usd) as lines_usd
    from {{ ref('fct_municipal_remittances_quarterly') }}
    group by cve_ent, quarter_start
),

state_keys as (
    select distinct state_name_published, cve_ent
    from {{ ref('int_banxico_municipalities_matched_to_cve_mun') }}
),

state_rows as (
    select state_keys.cve_ent, remittances.quarter_start, remittances.remittances_usd as state_usd
    from {{ ref('stg_banxico__municipal_remittances') }} as remittances
    inner join state_keys using (state_name_published)
    where remittances.row_kind = 'state'
)

select
    coalesce(state_rows.cve_ent, lines.cve_ent) as cve_ent,
    coalesce(state_rows.quarter_start, lines.quarter_start) as quarter_start,
    state_rows.state_usd,
    lines.lines_usd,
    lines.n_lines
from state_rows
full outer join lines using (cve_ent, quarter_start)
where state_rows.state_usd is null
    or lines.lines_usd is null
    or abs(state_rows.state_usd - lines.lines_usd) > (lines.n_lines + 1) * 0.5 + 0.001
