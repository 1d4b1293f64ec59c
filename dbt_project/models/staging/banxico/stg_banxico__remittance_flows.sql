-- Banxico national remittances by month and direction, in warehouse vocabulary.
with source as (
    select * from {{ source('raw', 'banxico_remittances_monthly') }}
),

renamed as (
    select
        cast(periodo as date) as month,
        id_flujo as flow_id,
        case id_flujo when 1 then 'income' when 2 then 'outflow' end as flow,
        flujo as flow_published,
        operaciones as operations,
        valor_usd as remittances_usd,
        file_name,
        line_number
    from source
)

select * from renamed
