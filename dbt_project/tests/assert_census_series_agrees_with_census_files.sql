-- INEGI publishes the same populations twice: per-year files (the warehouse's source) and the
-- 1990-2010 series file. Every area, sex and year must agree; a municipality with an empty cell
-- in the series must be absent from that year's file. Only the years the series covers are
-- compared (it stops at 2010). Vacuous unless both were loaded.
with series_years as (
    select distinct census_year from {{ ref('stg_inegi__census_series_populations') }}
),

per_year_all as (
    select census_year, row_level, cve_ent, cve_mun, 'total' as sex, population_total as population
    from {{ ref('stg_inegi__census_populations') }}
    union all
    select census_year, row_level, cve_ent, cve_mun, 'male', population_male
    from {{ ref('stg_inegi__census_populations') }}
    union all
    select census_year, row_level, cve_ent, cve_mun, 'female', population_female
    from {{ ref('stg_inegi__census_populations') }}
),

per_year as (
    select * from per_year_all where census_year in (select census_year from series_years)
),

series as (
    select census_year, row_level, cve_ent, cve_mun, sex, population
    from {{ ref('stg_inegi__census_series_populations') }}
    where population is not null
),

compared as (
    select
        coalesce(per_year.census_year, series.census_year) as census_year,
        coalesce(per_year.row_level, series.row_level) as row_level,
        coalesce(per_year.cve_ent, series.cve_ent) as cve_ent,
        coalesce(per_year.cve_mun, series.cve_mun) as cve_mun,
        coalesce(per_year.sex, series.sex) as sex,
        per_year.population as per_year_population,
        series.population as series_population
    from per_year
    full outer join series
        on series.census_year = per_year.census_year
        and series.row_level = per_year.row_level
        and series.cve_ent is not distinct from per_year.cve_ent
        and series.cve_mun is not distinct from per_year.cve_mun
        and series.sex = per_year.sex
)

select *
from compared
where per_year_population is distinct from series_population
  and {{ source_loaded('inegi_census') }}
  and {{ source_loaded('inegi_census_series') }}
