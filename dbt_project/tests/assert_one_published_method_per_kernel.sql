{{ config(tags=['forecast']) }}
-- The fixed rule picks exactly one candidate per kernel and choice, and the published forecasts
-- are that method's; the only other methods allowed are the fallbacks of a municipality the
-- chosen method cannot forecast (enumerated once by the origin: the model, else zero growth;
-- projections.evaluation.UNFORECASTABLE_FALLBACKS), never beside a forecast of the chosen
-- method for the same municipality, origin and year.
with chosen as (
    select kernel, choice, count(*) filter (where is_chosen) as picked,
        any_value(candidate) filter (where is_chosen) as candidate
    from {{ ref('fct_forecast_method_choice') }}
    group by kernel, choice
),

forecasts as (
    select forecasts.*, chosen.candidate
    from {{ ref('fct_forecasts') }} as forecasts
    left join chosen on chosen.kernel = forecasts.kernel and chosen.choice = 'method'
),

published as (
    select distinct kernel, method, candidate from forecasts
    where not (kernel = 'depopulation' and method in ('model', 'zero_growth') and method <> candidate)
),

fallback_beside_the_method as (
    select fallback.kernel, fallback.unit, fallback.origin, fallback.year
    from forecasts as fallback
    inner join forecasts as method
        on method.kernel = fallback.kernel
        and method.unit = fallback.unit
        and method.origin = fallback.origin
        and method.year = fallback.year
        and method.method = method.candidate
    where fallback.kernel = 'depopulation'
      and fallback.method in ('model', 'zero_growth')
      and fallback.method <> fallback.candidate
)

select chosen.kernel, chosen.choice, chosen.picked, chosen.candidate, null as published_method
from chosen
where chosen.picked <> 1
union all
select kernel, 'method', null, candidate, method
from published
where candidate is distinct from method
union all
select kernel, 'fallback beside the method: ' || unit || ' ' || origin || '->' || year, null,
    null, null
from fallback_beside_the_method
