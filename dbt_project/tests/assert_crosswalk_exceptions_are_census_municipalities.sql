-- Every reviewed exception of the Banxico crosswalk names a municipality of the latest census in
-- the state it sits under (a seed row left behind by a renaming or a typo would match nothing).
-- Vacuous when the censuses were not loaded (the paper-only build).
with exceptions as (
    select cve_ent, municipality_name_published, cve_mun
    from {{ ref('banxico_municipality_name_exceptions') }}
    where cve_mun is not null
),

latest_census as (
    select cve_ent, cve_mun
    from {{ ref('stg_inegi__census_populations') }}
    where row_level = 'municipality'
        and census_year = (select max(census_year) from {{ ref('stg_inegi__census_populations') }})
)

select exceptions.*
from exceptions
left join latest_census
    on latest_census.cve_mun = exceptions.cve_mun
    and latest_census.cve_ent = exceptions.cve_ent
where latest_census.cve_mun is null
    and {{ source_loaded('inegi_census') }}
