-- The paper's claims about Mexico and the United States side by side (population, growth, GDP
-- per capita, the size of Mexico's economy), recomputed from the World Bank's WDI. One row per
-- claim, NULL values when the files are not loaded.
with countries as (
    select * from {{ ref('int_worldbank_indicators_joined_to_country_year') }}
    where not is_aggregate
),

mexico_and_us as (
    -- one row whatever is loaded; population in thousands, as the paper prints it
    select
        {%- for year in [1994, 2004] %}
        max(gdp_per_capita_usd) filter (where country_code = 'USA' and year = {{ year }})
            / nullif(max(gdp_per_capita_usd) filter (where country_code = 'MEX' and year = {{ year }}), 0)
            as gdp_per_capita_ratio_{{ year }},
        max(population) filter (where country_code = 'MEX' and year = {{ year }}) / 1000.0
            as mexico_population_{{ year }},
        max(population) filter (where country_code = 'USA' and year = {{ year }}) / 1000.0
            as us_population_{{ year }},
        {%- endfor %}
        {%- for year in [1995, 2004] %}
        max(population_growth_pct) filter (where country_code = 'MEX' and year = {{ year }})
            as mexico_population_growth_{{ year }},
        max(population_growth_pct) filter (where country_code = 'USA' and year = {{ year }})
            as us_population_growth_{{ year }},
        {%- endfor %}
    from countries
),

economy_rank_2005 as (
    select max(rank_2005) filter (where country_code = 'MEX') as mexico_rank
    from (
        select country_code, rank() over (order by gdp_usd desc) as rank_2005
        from countries
        where year = 2005 and gdp_usd is not null
    )
),

hispanic_population as (
    -- printed by the paper, with its rounding interval
    select value as mid, value - printed_step / 2.0 as lo, value + printed_step / 2.0 as hi
    from {{ ref('paper_claims') }}
    where claim_id = 'social_hispanic_population'
),

recomputed as (
    {%- for year in [1994, 2004] %}
    select
        'nafta_gdp_per_capita_ratio_{{ year }}' as claim_id,
        {{ claim_columns(claim_exact('gdp_per_capita_ratio_' ~ year)) }},
        'worldbank_gdp,worldbank_population' as required_sources
    from mexico_and_us
    union all
    select
        'nafta_mexico_population_{{ year }}',
        {{ claim_columns(claim_exact('mexico_population_' ~ year)) }},
        'worldbank_population'
    from mexico_and_us
    union all
    select
        'nafta_us_population_{{ year }}',
        {{ claim_columns(claim_exact('us_population_' ~ year)) }},
        'worldbank_population'
    from mexico_and_us
    union all
    {%- endfor %}
    {%- for year in [1995, 2004] %}
    select
        'nafta_mexico_population_growth_{{ year }}',
        {{ claim_columns(claim_exact('mexico_population_growth_' ~ year)) }},
        'worldbank_population'
    from mexico_and_us
    union all
    select
        'nafta_us_population_growth_{{ year }}',
        {{ claim_columns(claim_exact('us_population_growth_' ~ year)) }},
        'worldbank_population'
    from mexico_and_us
    union all
    {%- endfor %}
    select
        'nafta_mexico_economy_rank',
        {{ claim_columns(claim_exact('mexico_rank')) }},
        'worldbank_gdp'
    from economy_rank_2005
    union all
    select
        'social_hispanic_share_us_population',
        {{ claim_columns(claim_scale(claim_div(
            claim_interval('hispanic_population'),
            claim_exact('1000 * mexico_and_us.us_population_2004')), '100')) }},
        'worldbank_population'
    from hispanic_population
    cross join mexico_and_us
),

final as (
    select * from recomputed
)

select * from final
