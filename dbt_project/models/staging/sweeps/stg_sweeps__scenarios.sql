-- Swept parameter values of every scenario, long: one row per study, scenario and parameter.
with source as (
    select * from {{ source('sweeps', 'scenarios') }}
),

renamed as (
    select
        study,
        scenario_id,
        parameter,
        value as parameter_value,
        unit as parameter_unit
    from source
)

select * from renamed
