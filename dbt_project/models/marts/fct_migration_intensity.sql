-- CONAPO migration intensity by municipality and index year (2000, 2010).
with indices as (
    select * from {{ ref('int_intensity_indices_unioned_to_municipality_year') }}
),

final as (
    select
        cve_mun,
        index_year,
        household_unit,
        households,
        pct_households_remittances,
        pct_households_emigrants,
        pct_households_circular,
        pct_households_return,
        intensity_index,
        intensity_degree
    from indices
)

select * from final
