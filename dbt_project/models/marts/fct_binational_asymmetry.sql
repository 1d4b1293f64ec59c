-- Mexico and the United States side by side: World Bank series for every year, and the paper's
-- Table 2 rows, each row saying where it comes from.
with worldbank as (
    select * from {{ ref('int_worldbank_indicators_joined_to_country_year') }}
    where country_code in ('MEX', 'USA')
),

worldbank_prepared as (
    select
        country_code,
        year,
        population / 1000.0 as population_thousands,
        gdp_usd,
        gdp_per_capita_usd,
        population_growth_pct
    from worldbank
),

worldbank_long as (
    -- one row per country, year and indicator, in the units of the paper's Table 2
    select
        country_code,
        year,
        indicator,
        case indicator
            when 'population' then 'thousands_of_persons'
            when 'gdp' then 'current_usd'
            when 'gdp_per_capita' then 'current_usd_per_person'
            when 'population_growth_pct' then 'percent_per_year'
        end as unit,
        value
    from worldbank_prepared
    unpivot (
        value for indicator in (
            population_thousands as 'population',
            gdp_usd as 'gdp',
            gdp_per_capita_usd as 'gdp_per_capita',
            population_growth_pct as 'population_growth_pct'
        )
    )
),

paper_table_2 as (
    select * from {{ ref('paper_table_2_asymmetries') }}
),

worldbank_rows as (
    select
        year,
        year as observation_year_mexico,
        year as observation_year_us,
        indicator,
        unit,
        max(value) filter (where country_code = 'MEX') as mexico_value,
        max(value) filter (where country_code = 'USA') as us_value,
        'World Bank WDI (worldbank/gdp.csv, worldbank/population.csv)' as source
    from worldbank_long
    group by year, indicator, unit
),

paper_rows as (
    select
        column_year as year,
        max(observation_year) filter (where country = 'MEX') as observation_year_mexico,
        max(observation_year) filter (where country = 'USA') as observation_year_us,
        indicator,
        unit,
        max(value) filter (where country = 'MEX') as mexico_value,
        max(value) filter (where country = 'USA') as us_value,
        'paper Table 2 (sources: OECD, INEGI)' as source
    from paper_table_2
    group by column_year, indicator, unit
),

unioned as (
    select * from worldbank_rows
    union all
    select * from paper_rows
),

final as (
    select
        year,
        observation_year_mexico,
        observation_year_us,
        indicator,
        unit,
        mexico_value,
        us_value,
        us_value / nullif(mexico_value, 0) as us_to_mexico_ratio,
        source
    from unioned
)

select * from final
