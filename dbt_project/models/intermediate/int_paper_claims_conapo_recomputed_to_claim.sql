-- The paper's Table 1 and its claims about households, recomputed from CONAPO's 2000 index and
-- INEGI's 2000 census (the census the index is built on). One row per claim.
with intensity_2000 as (
    select cve_mun, intensity_degree, households, pct_households_remittances
    from {{ ref('int_intensity_indices_unioned_to_municipality_year') }}
    where index_year = 2000
),

population_2000 as (
    select cve_mun, population_total
    from {{ ref('stg_inegi__census_populations') }}
    where row_level = 'municipality' and census_year = 2000
),

municipalities as (
    select intensity_2000.*, population_2000.population_total
    from intensity_2000
    left join population_2000 using (cve_mun)
),

totals as (
    select
        count(*) as municipalities,
        count(*) filter (where intensity_degree <> 'null') as with_migration,
        count(*) filter (where intensity_degree = 'null') as null_degree,
        sum(population_total) as population,
        sum(population_total) filter (where intensity_degree = 'very_high') as very_high_population,
        sum(households) as households,
        sum(households * pct_households_remittances / 100) as households_receiving_remittances
    from municipalities
),

recomputed as (
    select
        'nafta_municipalities_with_migration_pct' as claim_id,
        {{ claim_columns(claim_exact('100.0 * with_migration / nullif(municipalities, 0)')) }},
        'conapo_iim_2000' as required_sources
    from totals
    union all
    select
        'table1_municipalities_total',
        {{ claim_columns(claim_exact('nullif(municipalities, 0)')) }},
        'conapo_iim_2000'
    from totals
    union all
    select
        'table1_population_total',
        {{ claim_columns(claim_exact('population')) }},
        'conapo_iim_2000,inegi_census'
    from totals
    union all
    select
        'table1_households_total',
        {{ claim_columns(claim_exact('households')) }},
        'conapo_iim_2000'
    from totals
    union all
    select
        'table1_very_high_population',
        {{ claim_columns(claim_exact('very_high_population')) }},
        'conapo_iim_2000,inegi_census'
    from totals
    union all
    select
        'table1_null_municipalities_pct',
        {{ claim_columns(claim_exact(
            'case when null_degree > 0 then 100.0 * null_degree / municipalities end')) }},
        'conapo_iim_2000'
    from totals
    union all
    select
        'impact_households_receiving_remittances',
        {{ claim_columns(claim_exact('households_receiving_remittances')) }},
        'conapo_iim_2000'
    from totals
    union all
    select
        'impact_households_receiving_remittances_pct',
        {{ claim_columns(claim_exact(
            '100 * households_receiving_remittances / nullif(households, 0)')) }},
        'conapo_iim_2000'
    from totals
),

final as (
    select * from recomputed
)

select * from final
