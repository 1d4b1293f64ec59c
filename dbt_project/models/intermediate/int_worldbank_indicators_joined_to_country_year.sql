-- GDP and population side by side per country and year, with aggregates flagged so that
-- country rankings never count 'World' or 'High income' as a country.
with gdp as (
    select * from {{ ref('stg_worldbank__gdp') }}
),

population as (
    select * from {{ ref('stg_worldbank__populations') }}
),

aggregates as (
    select country_code from {{ ref('worldbank_aggregate_codes') }}
),

joined as (
    select
        coalesce(gdp.country_code, population.country_code) as country_code,
        coalesce(gdp.country_name, population.country_name) as country_name,
        coalesce(gdp.year, population.year) as year,
        gdp.gdp_usd,
        population.population
    from gdp
    full outer join population
        on population.country_code = gdp.country_code
        and population.year = gdp.year
),

final as (
    select
        joined.*,
        joined.gdp_usd / nullif(joined.population, 0) as gdp_per_capita_usd,
        -- growth over the previous calendar year (NULL when that year is not published),
        -- in percent as the paper prints it
        case
            when lag(joined.year) over by_country = joined.year - 1
                then 100 * (joined.population / nullif(lag(joined.population) over by_country, 0) - 1)
        end as population_growth_pct,
        joined.country_code in (select country_code from aggregates) as is_aggregate
    from joined
    window by_country as (partition by joined.country_code order by joined.year)
)

select * from final
