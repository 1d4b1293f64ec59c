-- Municipalities, population and households by degree of migration intensity: for 2000 this is
-- the paper's Table 1 recomputed from CONAPO's index and INEGI's 2000 census.
with indices as (
    select * from {{ ref('int_intensity_indices_unioned_to_municipality_year') }}
),

populations as (
    select cve_mun, census_year, population_total
    from {{ ref('fct_municipal_population') }}
),

joined as (
    -- population from the census of the index year (CONAPO's index is built on that census)
    select
        indices.index_year,
        indices.intensity_degree,
        indices.cve_mun,
        indices.households,
        populations.population_total
    from indices
    left join populations
        on populations.cve_mun = indices.cve_mun
        and populations.census_year = indices.index_year
),

by_degree as (
    select
        index_year,
        intensity_degree,
        count(*) as municipalities,
        sum(population_total) as population,
        sum(households) as households
    from joined
    group by index_year, intensity_degree
),

final as (
    select
        index_year,
        intensity_degree,
        municipalities,
        population,
        households,
        100.0 * municipalities / sum(municipalities) over by_year as municipalities_pct,
        100.0 * population / sum(population) over by_year as population_pct,
        100.0 * households / sum(households) over by_year as households_pct
    from by_degree
    window by_year as (partition by index_year)
)

select * from final
