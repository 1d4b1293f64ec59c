-- INEGI population by area and census year (per-year files): the warehouse's population source.
with source as (
    select * from {{ source('raw', 'inegi_census') }}
),

renamed as (
    select
        cast(census_year as smallint) as census_year,
        row_level,
        cve_ent,
        case when row_level = 'municipality' then cve_ent || cve_mun end as cve_mun,
        area_name,
        total as population_total,
        male as population_male,
        female as population_female,
        file_name,
        line_number
    from source
)

select * from renamed
