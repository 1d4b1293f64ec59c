-- Every municipality of the latest census has a boundary (else a hole in the report's maps), and
-- every boundary is a municipality of that census (ingest refuses a file keyed to another
-- vintage: rule key.unknown_municipality). Vacuous when the boundaries were not loaded.
with boundaries as (
    select cve_mun from {{ ref('stg_inegi__municipal_boundaries') }} where element = 'geometry'
),

latest_census as (
    select cve_mun
    from {{ ref('stg_inegi__census_populations') }}
    where row_level = 'municipality'
        and census_year = (select max(census_year) from {{ ref('stg_inegi__census_populations') }})
)

select
    coalesce(latest_census.cve_mun, boundaries.cve_mun) as cve_mun,
    case when boundaries.cve_mun is null then 'no boundary' else 'not in the census' end as problem
from latest_census
full outer join boundaries using (cve_mun)
where (boundaries.cve_mun is null or latest_census.cve_mun is null)
    and {{ source_loaded('inegi_municipal_boundaries') }}
