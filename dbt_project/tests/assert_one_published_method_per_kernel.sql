{{ config(tags=['forecast']) }}
-- The fixed rule picks exactly one candidate per kernel and choice, and the published forecasts
-- are that method's.
with chosen as (
    select kernel, choice, count(*) filter (where is_chosen) as picked,
        any_value(candidate) filter (where is_chosen) as candidate
    from {{ ref('fct_forecast_method_choice') }}
    group by kernel, choice
),

published as (
    select distinct kernel, method from {{ ref('fct_forecasts') }}
)

select chosen.kernel, chosen.choice, chosen.picked, chosen.candidate, null as published_method
from chosen
where chosen.picked <> 1
union all
select published.kernel, 'method', null, chosen.candidate, published.method
from published
left join chosen on chosen.kernel = published.kernel and chosen.choice = 'method'
where chosen.candidate is distinct from published.method
