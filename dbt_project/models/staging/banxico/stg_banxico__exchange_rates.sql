-- Monthly USD/MXN rate; months without a rate stay NULL (ingest maps the file's 0 to NULL).
with source as (
    select * from {{ source('raw', 'banxico_usdmxn_monthly') }}
),

renamed as (
    select
        cast(periodo as date) as month,
        tipo_cambio as usdmxn_rate,
        file_name,
        line_number
    from source
)

select * from renamed
