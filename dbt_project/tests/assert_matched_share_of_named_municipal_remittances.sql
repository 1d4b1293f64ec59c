-- Of the remittance income Banxico publishes under a municipality's name (every line but 'No
-- identificado'), at least 99.5 % must be matched to an INEGI key, every year.
with named as (
    select
        year,
        sum(remittances_usd) as named_usd,
        sum(remittances_usd) filter (where cve_mun is not null) as matched_usd
    from {{ ref('fct_municipal_remittances_quarterly') }}
    where match_status <> 'unidentified'
    group by year
)

select year, named_usd, matched_usd, matched_usd / nullif(named_usd, 0) as matched_share
from named
where coalesce(matched_usd / nullif(named_usd, 0), 0) < 0.995
    and named_usd > 0
