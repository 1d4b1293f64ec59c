-- The paper's Table 1 (seed) must come out of the raw CONAPO 2000 and INEGI 2000 files exactly:
-- counts, population and households to the unit, shares to the paper's two decimals.
-- Passes vacuously only on a build where either source was not loaded (paper-only default).
with paper as (
    select * from {{ ref('paper_table_1_intensity_2000') }}
),

paper_degrees as (
    select * from paper where row_kind = 'degree'
),

paper_total as (
    select * from paper where row_kind = 'total'
),

mart as (
    select * from {{ ref('fct_intensity_degree_summary') }}
    where index_year = 2000
),

mart_total as (
    select
        sum(municipalities) as municipalities,
        sum(population) as population,
        sum(households) as households
    from mart
),

degree_mismatches as (
    select
        coalesce(paper_degrees.intensity_degree, mart.intensity_degree) as intensity_degree,
        'degree row differs' as problem
    from paper_degrees
    full outer join mart using (intensity_degree)
    where paper_degrees.intensity_degree is null
       or mart.intensity_degree is null
       or mart.municipalities <> paper_degrees.municipalities
       or mart.population <> paper_degrees.population
       or mart.households <> paper_degrees.households
       or round(mart.municipalities_pct, 2) <> paper_degrees.municipalities_pct
       or round(mart.population_pct, 2) <> paper_degrees.population_pct
       or round(mart.households_pct, 2) <> paper_degrees.households_pct
),

total_mismatches as (
    select 'total' as intensity_degree, 'Absolutes row differs' as problem
    from paper_total
    cross join mart_total
    where mart_total.municipalities is distinct from paper_total.municipalities
       or mart_total.population is distinct from paper_total.population
       or mart_total.households is distinct from paper_total.households
),

failures as (
    select * from degree_mismatches
    union all
    select * from total_mismatches
)

select *
from failures
where {{ source_loaded('conapo_iim_2000') }}
  and {{ source_loaded('inegi_census') }}
