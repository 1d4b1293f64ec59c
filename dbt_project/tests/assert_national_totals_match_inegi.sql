-- For every census year loaded, the municipalities of fct_municipal_population must add up to
-- INEGI's own national row (97,483,412 in 2000, 103,263,388 in 2005, 112,336,538 in 2010), and
-- each state's municipalities to INEGI's state row. A year without a national row fails too.
with municipal_totals as (
    select census_year, sum(population_total) as population
    from {{ ref('fct_municipal_population') }}
    group by census_year
),

state_sums as (
    select census_year, cve_ent, sum(population_total) as population
    from {{ ref('fct_municipal_population') }}
    group by census_year, cve_ent
),

published as (
    select census_year, row_level, cve_ent, population_total
    from {{ ref('stg_inegi__census_populations') }}
    where row_level in ('national', 'state')
),

national_failures as (
    select
        municipal_totals.census_year,
        cast(null as varchar) as cve_ent,
        municipal_totals.population as sum_of_municipalities,
        published.population_total as published_total
    from municipal_totals
    left join published
        on published.census_year = municipal_totals.census_year
        and published.row_level = 'national'
    where published.population_total is distinct from municipal_totals.population
),

state_failures as (
    select
        coalesce(state_sums.census_year, published.census_year) as census_year,
        coalesce(state_sums.cve_ent, published.cve_ent) as cve_ent,
        state_sums.population as sum_of_municipalities,
        published.population_total as published_total
    from state_sums
    full outer join (select * from published where row_level = 'state') as published
        on published.census_year = state_sums.census_year
        and published.cve_ent = state_sums.cve_ent
    where published.population_total is distinct from state_sums.population
)

select * from national_failures
union all
select * from state_failures
