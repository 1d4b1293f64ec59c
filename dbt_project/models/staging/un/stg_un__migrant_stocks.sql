-- UN DESA migrant stock of the United States by origin (Inbound) or destination (Outbound).
with source as (
    select * from {{ source('raw', 'un_migrant_stock') }}
),

renamed as (
    select
        cast(year as smallint) as year,
        country,
        lower(category) as direction,
        area,
        -- published as floats; stocks are whole persons
        cast(round(count) as bigint) as migrants,
        file_name,
        line_number
    from source
)

select * from renamed
