-- Scalar outcomes of every scenario, long: one row per study, scenario and outcome.
with source as (
    select * from {{ source('sweeps', 'outcomes') }}
),

renamed as (
    select
        study,
        scenario_id,
        outcome,
        value as outcome_value,
        unit as outcome_unit
    from source
)

select * from renamed
