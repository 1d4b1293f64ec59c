-- How many municipalities lost population in each growth period, by their degree of migration
-- intensity in each CONAPO edition (2000, 2010, 2020): the paper's question (one in three
-- municipalities losing people in 2000-2005) asked of every period, the 2010s included.
with growth as (
    select * from {{ ref('fct_municipal_growth') }}
),

degrees as (
    select cve_mun, index_year, intensity_degree
    from {{ ref('fct_migration_intensity') }}
),

census_dates as (
    select census_year, reference_date from {{ ref('inegi_census_dates') }}
),

by_degree as (
    -- municipalities counted at both ends of the period that have a degree in the edition
    select
        growth.period,
        growth.start_year,
        growth.end_year,
        degrees.index_year,
        degrees.intensity_degree,
        count(*) as municipalities,
        count(*) filter (where growth.is_depopulating) as depopulating_municipalities,
        sum(growth.population_start) as population_start,
        sum(growth.population_end) as population_end,
        median(growth.annual_growth_rate) as median_annual_growth_rate
    from growth
    inner join degrees using (cve_mun)
    group by all
),

final as (
    select
        by_degree.period,
        by_degree.start_year,
        by_degree.end_year,
        by_degree.index_year,
        by_degree.intensity_degree,
        by_degree.municipalities,
        by_degree.depopulating_municipalities,
        100.0 * by_degree.depopulating_municipalities / by_degree.municipalities
            as depopulating_pct,
        by_degree.population_start,
        by_degree.population_end,
        -- the degree's population taken together, over the real time between the censuses
        power(
            by_degree.population_end::double / nullif(by_degree.population_start, 0),
            365.25 / datediff('day', start_date.reference_date, end_date.reference_date)
        ) - 1 as annual_growth_rate,
        by_degree.median_annual_growth_rate
    from by_degree
    inner join census_dates as start_date on start_date.census_year = by_degree.start_year
    inner join census_dates as end_date on end_date.census_year = by_degree.end_year
)

select * from final
