-- World Bank WDI Total population (persons) by country (or aggregate) and year.
with source as (
    select * from {{ source('raw', 'worldbank_population') }}
),

renamed as (
    select
        country_code,
        country_name,
        cast(year as smallint) as year,
        value as population,
        file_name,
        line_number
    from source
)

select * from renamed
