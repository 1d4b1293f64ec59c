-- INEGI censo_1990-2010.csv (five years side by side) in long form: the cross-check source.
with source as (
    select * from {{ source('raw', 'inegi_census_series') }}
),

renamed as (
    select
        cast(census_year as smallint) as census_year,
        row_level,
        cve_ent,
        case when row_level = 'municipality' then cve_ent || cve_mun end as cve_mun,
        area_name,
        case sex
            when 'Total' then 'total'
            when 'Hombre' then 'male'
            when 'Mujer' then 'female'
        end as sex,
        population,
        file_name,
        line_number
    from source
)

select * from renamed
