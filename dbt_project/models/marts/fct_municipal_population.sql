-- Population by municipality and census year, from INEGI's per-year files, with the exact
-- reference date of each census or count.
with municipal_rows as (
    select *
    from {{ ref('stg_inegi__census_populations') }}
    where row_level = 'municipality'
),

census_dates as (
    select census_year, reference_date from {{ ref('inegi_census_dates') }}
),

final as (
    select
        municipal_rows.cve_mun,
        municipal_rows.cve_ent,
        municipal_rows.census_year,
        census_dates.reference_date,
        municipal_rows.population_total,
        municipal_rows.population_male,
        municipal_rows.population_female
    from municipal_rows
    left join census_dates using (census_year)
)

select * from final
