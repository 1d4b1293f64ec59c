{{ config(tags=['forecast']) }}
-- The published method's probabilistic forecasts per kernel, origin, unit and year.
with source as (
    select * from {{ source('forecasts', 'published_forecasts') }}
),

renamed as (
    select
        kernel,
        method,
        cast(origin as smallint) as origin,
        unit,
        cast(year as smallint) as year,
        p05,
        p25,
        p50,
        p75,
        p95,
        observed
    from source
)

select * from renamed
