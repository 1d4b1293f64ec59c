-- Banxico remittance income by municipality (named, not keyed) and quarter, in US dollars.
with source as (
    select * from {{ source('raw', 'banxico_remittances_municipal') }}
),

renamed as (
    select
        cast(periodo as date) as quarter_start,
        cast(year(periodo) as smallint) as year,
        cast(quarter(periodo) as smallint) as quarter,
        case
            when row_level = 'state' then 'state'
            -- the income Banxico could not place in a municipality of the state
            when municipio = 'No identificado' then 'unidentified'
            else 'municipality'
        end as row_kind,
        entidad as state_name_published,
        municipio as municipality_name_published,
        -- published in USD millions with six decimals: whole dollars
        valor_usd_millones * 1e6 as remittances_usd,
        file_name,
        line_number
    from source
)

select * from renamed
