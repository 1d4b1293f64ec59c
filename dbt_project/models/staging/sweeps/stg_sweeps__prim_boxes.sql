-- PRIM scenario-discovery boxes: which parameter ranges give the outcomes of interest.
with source as (
    select * from {{ source('sweeps', 'prim_boxes') }}
),

renamed as (
    select
        study,
        outcome,
        rule,
        box,
        parameter,
        low as parameter_low,
        high as parameter_high,
        coverage,
        density,
        mass,
        n_scenarios
    from source
)

select * from renamed
