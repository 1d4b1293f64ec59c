-- One row per municipality ever counted by INEGI 1990-2020, with the census years it appears in,
-- so municipalities created after 1990 keep their history (first_census_year > 1990).
with municipal_rows as (
    select cve_mun, cve_ent, census_year, area_name
    from {{ ref('stg_inegi__census_populations') }}
    where row_level = 'municipality'
),

states as (
    select cve_ent, state_name from {{ ref('inegi_states') }}
),

latest_name as (
    -- the name from the most recent census the municipality appears in
    select cve_mun, area_name as municipality_name
    from municipal_rows
    qualify row_number() over (partition by cve_mun order by census_year desc) = 1
),

spans as (
    select
        cve_mun,
        any_value(cve_ent) as cve_ent,
        min(census_year) as first_census_year,
        max(census_year) as last_census_year
    from municipal_rows
    group by cve_mun
),

final as (
    select
        spans.cve_mun,
        spans.cve_ent,
        states.state_name,
        latest_name.municipality_name,
        spans.first_census_year,
        spans.last_census_year
    from spans
    inner join latest_name using (cve_mun)
    left join states using (cve_ent)
)

select * from final
