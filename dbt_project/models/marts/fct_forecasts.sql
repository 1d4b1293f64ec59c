{{ config(tags=['forecast']) }}
-- The published method's probabilistic forecasts: from every evaluation origin (with what was
-- then observed) and from the latest origin (the published forecast).
with forecasts as (
    select * from {{ ref('stg_forecasts__published_forecasts') }}
),

latest as (
    select kernel, max(origin) as latest_origin
    from forecasts
    group by kernel
),

final as (
    select
        forecasts.kernel,
        forecasts.method,
        forecasts.origin,
        forecasts.unit,
        forecasts.year,
        forecasts.p05,
        forecasts.p25,
        forecasts.p50,
        forecasts.p75,
        forecasts.p95,
        forecasts.observed,
        forecasts.origin = latest.latest_origin as is_published,
        case
            when forecasts.observed is not null and forecasts.p05 is not null
                then forecasts.observed between forecasts.p05 and forecasts.p95
        end as observed_in_p05_p95
    from forecasts
    inner join latest on forecasts.kernel = latest.kernel
)

select * from final
