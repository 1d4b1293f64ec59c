{{ config(tags=['forecast']) }}
-- Mid-year (1 July) population of every municipality and year: between two enumerations,
-- interpolated at constant growth on their exact reference dates; after the last census,
-- between it and the published forecast's median (p50, dated mid-year like every forecast year
-- that is not a census), so those years are estimates that lean on the forecast. Nothing is
-- extrapolated beyond the anchors: a year before a municipality's first enumeration (created
-- later) or after the last forecast year has no row.
with enumerations as (
    select
        cve_mun,
        reference_date as anchor_date,
        census_year as anchor_year,
        cast(population_total as double) as population,
        'census' as anchor_kind
    from {{ ref('fct_municipal_population') }}
),

published_forecast as (
    select
        unit as cve_mun,
        make_date(year, 7, 1) as anchor_date,
        year as anchor_year,
        p50 as population,
        'forecast' as anchor_kind
    from {{ ref('fct_forecasts') }}
    where kernel = 'depopulation' and is_published and year > origin
),

anchors as (
    select * from enumerations
    union all
    select * from published_forecast
),

targets as (
    select
        municipalities.cve_mun,
        cast(years.year as smallint) as year,
        make_date(cast(years.year as integer), 7, 1) as target_date
    from (select distinct cve_mun from anchors) as municipalities
    cross join range(
        (select min(year(anchor_date)) from anchors),
        (select max(year(anchor_date)) + 1 from anchors)
    ) as years (year)
),

with_previous as (
    select
        targets.*,
        previous.anchor_date as previous_date,
        previous.anchor_year as previous_year,
        previous.population as previous_population,
        previous.anchor_kind as previous_kind
    from targets
    asof inner join anchors as previous
        on targets.cve_mun = previous.cve_mun
        and targets.target_date >= previous.anchor_date
),

with_next as (
    select
        with_previous.*,
        following.anchor_date as next_date,
        following.anchor_year as next_year,
        following.population as next_population,
        following.anchor_kind as next_kind
    from with_previous
    asof left join anchors as following
        on with_previous.cve_mun = following.cve_mun
        and with_previous.target_date < following.anchor_date
),

interpolated as (
    select
        *,
        datediff('day', previous_date, target_date)
            / nullif(datediff('day', previous_date, next_date), 0) as fraction
    from with_next
    -- the target is an anchor itself, or lies between two anchors
    where target_date = previous_date or next_date is not null
),

final as (
    select
        cve_mun,
        year,
        case
            when target_date = previous_date then previous_population
            when previous_population > 0 and next_population > 0
                then previous_population * power(next_population / previous_population, fraction)
            else previous_population + (next_population - previous_population) * fraction
        end as population_estimate,
        case
            when target_date = previous_date and previous_kind = 'census'
                then 'census_interpolation'
            when previous_kind = 'census' and next_kind = 'census' then 'census_interpolation'
            when previous_kind = 'census' then 'census_and_forecast'
            else 'forecast'
        end as population_method,
        previous_year as anchor_year_before,
        case when target_date = previous_date then previous_year else next_year end
            as anchor_year_after
    from interpolated
)

select * from final
