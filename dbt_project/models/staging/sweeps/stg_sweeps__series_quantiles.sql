-- Quantile bands (p05 ... p95) of each kept yearly series.
with source as (
    select * from {{ source('sweeps', 'series_quantiles') }}
),

renamed as (
    select
        study,
        series,
        year,
        quantile,
        'p' || lpad(cast(cast(round(quantile * 100) as integer) as varchar), 2, '0') as quantile_label,
        value as series_value
    from source
)

select * from renamed
