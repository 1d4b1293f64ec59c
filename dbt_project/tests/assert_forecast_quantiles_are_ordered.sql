{{ config(tags=['forecast']) }}
-- Every forecast's quantiles are ordered p05 <= p25 <= p50 <= p75 <= p95.
select *
from {{ ref('fct_forecasts') }}
where p05 is not null
  and not (p05 <= p25 and p25 <= p50 and p50 <= p75 and p75 <= p95)
