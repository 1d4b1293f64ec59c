{{ config(tags=['forecast']) }}
-- Every candidate's record on the selection pairs, and which one the fixed rule chose.
with source as (
    select * from {{ source('forecasts', 'method_choice') }}
),

renamed as (
    select
        kernel,
        choice,
        candidate,
        role,
        criterion,
        value,
        cast(pairs as integer) as pairs,
        is_chosen,
        rule
    from source
)

select * from renamed
