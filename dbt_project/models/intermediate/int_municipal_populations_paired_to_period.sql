-- Each municipality's population at the start and end of every growth period, for the
-- municipalities counted in both censuses, with the time elapsed between the census reference dates.
with populations as (
    select cve_mun, census_year, population_total
    from {{ ref('stg_inegi__census_populations') }}
    where row_level = 'municipality'
),

periods as (
    select * from {{ ref('census_growth_periods') }}
),

census_dates as (
    select census_year, reference_date from {{ ref('inegi_census_dates') }}
),

paired as (
    select
        start_pop.cve_mun,
        periods.period,
        periods.start_year,
        periods.end_year,
        start_pop.population_total as population_start,
        end_pop.population_total as population_end,
        -- censuses and counts were not taken on the same day of the year (e.g. 2000-02-14 vs
        -- 2005-10-17), so the real elapsed time, not the nominal 5 years, is used for the rate
        datediff('day', start_date.reference_date, end_date.reference_date) / 365.25
            as years_elapsed
    from periods
    inner join populations as start_pop
        on start_pop.census_year = periods.start_year
    inner join populations as end_pop
        on end_pop.census_year = periods.end_year
        and end_pop.cve_mun = start_pop.cve_mun
    inner join census_dates as start_date
        on start_date.census_year = periods.start_year
    inner join census_dates as end_date
        on end_date.census_year = periods.end_year
),

final as (
    select
        *,
        case
            when population_start > 0
                then power(population_end::double / population_start, 1.0 / years_elapsed) - 1
        end as annual_growth_rate,
        population_end < population_start as is_depopulating
    from paired
)

select * from final
