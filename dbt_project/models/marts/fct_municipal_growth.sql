-- Annual growth of every municipality over each census period and decade.
with paired as (
    select * from {{ ref('int_municipal_populations_paired_to_period') }}
),

final as (
    select
        cve_mun,
        period,
        start_year,
        end_year,
        population_start,
        population_end,
        annual_growth_rate,
        is_depopulating
    from paired
)

select * from final
