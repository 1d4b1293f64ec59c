-- Every checkable claim of the paper recomputed, as an interval: data values are exact, figures
-- the paper prints carry their rounding interval through the arithmetic
-- (macros/claim_recomputation.sql). One model per source domain does the work; this one puts
-- them together. A claim absent here is not checkable with the data we hold.
with unioned as (
    select * from {{ ref('int_paper_claims_un_recomputed_to_claim') }}
    union all
    select * from {{ ref('int_paper_claims_banxico_recomputed_to_claim') }}
    union all
    select * from {{ ref('int_paper_claims_conapo_recomputed_to_claim') }}
    union all
    select * from {{ ref('int_paper_claims_inegi_recomputed_to_claim') }}
    union all
    select * from {{ ref('int_paper_claims_worldbank_recomputed_to_claim') }}
    union all
    select * from {{ ref('int_paper_claims_paper_recomputed_to_claim') }}
),

final as (
    select claim_id, recomputed_value, recomputed_low, recomputed_high, required_sources
    from unioned
)

select * from final
