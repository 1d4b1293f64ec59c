-- Population by municipality and census year, from INEGI's per-year files.
with municipal_rows as (
    select *
    from {{ ref('stg_inegi__census_populations') }}
    where row_level = 'municipality'
),

final as (
    select
        cve_mun,
        cve_ent,
        census_year,
        population_total,
        population_male,
        population_female
    from municipal_rows
)

select * from final
