-- How many municipalities lost population in each period, by their 2000 migration intensity.
with growth as (
    select * from {{ ref('fct_municipal_growth') }}
),

degrees_2000 as (
    select cve_mun, intensity_degree as intensity_degree_2000
    from {{ ref('fct_migration_intensity') }}
    where index_year = 2000
),

final as (
    -- inner join: municipalities without a 2000 index (created after 2000) have no 2000 degree
    select
        growth.period,
        growth.start_year,
        growth.end_year,
        degrees_2000.intensity_degree_2000,
        count(*) as municipalities,
        count(*) filter (where growth.is_depopulating) as depopulating_municipalities,
        100.0 * count(*) filter (where growth.is_depopulating) / count(*) as depopulating_pct
    from growth
    inner join degrees_2000 using (cve_mun)
    group by growth.period, growth.start_year, growth.end_year, degrees_2000.intensity_degree_2000
)

select * from final
