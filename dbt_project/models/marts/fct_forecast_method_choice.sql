{{ config(tags=['forecast']) }}
-- Which method is published, and why: every candidate's record on the pairs the fixed rule may
-- see (targets up to 2010 for municipalities, 2012 for remittances), and the rule's pick.
with choices as (
    select * from {{ ref('stg_forecasts__method_choice') }}
),

final as (
    select
        kernel,
        choice,
        candidate,
        role,
        criterion,
        value,
        pairs,
        is_chosen,
        rule
    from choices
)

select * from final
