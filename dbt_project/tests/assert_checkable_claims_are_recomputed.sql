-- Every claim whose check method is not 'not_checkable' must have a recomputation, and that
-- recomputation must produce a value whenever all the raw sources it needs were loaded.
with claims as (
    select claim_id, check_method from {{ ref('paper_claims') }}
    where check_method not like 'not_checkable%'
),

checks as (
    select claim_id, status, explanation from {{ ref('fct_paper_claims_check') }}
),

recomputed as (
    select claim_id from {{ ref('int_paper_claims_recomputed_to_claim') }}
)

select claims.claim_id, 'no recomputation written for this claim' as problem
from claims
where claims.claim_id not in (select claim_id from recomputed)

union all

select claims.claim_id, 'sources loaded but nothing recomputed: ' || checks.explanation
from claims
inner join checks using (claim_id)
where checks.status = 'not_checkable'
  and checks.explanation not like 'Not checked in this build: source files not loaded%'
