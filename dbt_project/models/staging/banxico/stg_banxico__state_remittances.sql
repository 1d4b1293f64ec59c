-- Banxico remittance income by state and quarter, with the 2-character state key.
with source as (
    select * from {{ source('raw', 'banxico_remittances_state') }}
),

renamed as (
    select
        cast(periodo as date) as quarter_start,
        lpad(cast(cve_ent as varchar), 2, '0') as cve_ent,
        entidad as state_name_published,
        valor_usd as remittances_usd,
        file_name,
        line_number
    from source
)

select * from renamed
