-- World Bank WDI GDP in current US dollars by country (or aggregate) and year.
with source as (
    select * from {{ source('raw', 'worldbank_gdp') }}
),

renamed as (
    select
        country_code,
        country_name,
        cast(year as smallint) as year,
        value as gdp_usd,
        file_name,
        line_number
    from source
)

select * from renamed
