-- The degree summary must account for every municipality of the intensity mart, every year.
with summary as (
    select index_year, sum(municipalities) as municipalities, sum(households) as households
    from {{ ref('fct_intensity_degree_summary') }}
    group by index_year
),

detail as (
    select index_year, count(*) as municipalities, sum(households) as households
    from {{ ref('fct_migration_intensity') }}
    group by index_year
)

select *
from summary
full outer join detail using (index_year)
where summary.municipalities is distinct from detail.municipalities
   or summary.households is distinct from detail.households
