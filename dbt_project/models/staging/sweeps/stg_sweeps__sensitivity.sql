-- Sensitivity indices of each scalar outcome to each swept parameter, with their intervals.
with source as (
    select * from {{ source('sweeps', 'sensitivity') }}
),

renamed as (
    select
        study,
        outcome,
        method,
        "index" as sensitivity_index,
        parameter,
        parameter_2,
        value as index_value,
        conf as index_conf,
        value - conf as index_conf_low,
        value + conf as index_conf_high
    from source
)

select * from renamed
