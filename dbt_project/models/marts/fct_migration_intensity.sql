-- CONAPO migration intensity by municipality and index year (2000, 2010, 2020), with the change
-- of degree since the municipality's previous edition.
with indices as (
    select * from {{ ref('int_intensity_indices_unioned_to_municipality_year') }}
),

ordered as (
    select
        *,
        -- degrees as steps (very_low = 1 .. very_high = 5); 'null' (no measurable migration,
        -- or no index) has no place on that scale
        case intensity_degree
            when 'very_low' then 1
            when 'low' then 2
            when 'medium' then 3
            when 'high' then 4
            when 'very_high' then 5
        end as degree_step,
        lag(index_year) over by_municipality as previous_index_year,
        lag(intensity_degree) over by_municipality as previous_intensity_degree
    from indices
    window by_municipality as (partition by cve_mun order by index_year)
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
        intensity_degree,
        previous_index_year,
        previous_intensity_degree,
        degree_step - case previous_intensity_degree
            when 'very_low' then 1
            when 'low' then 2
            when 'medium' then 3
            when 'high' then 4
            when 'very_high' then 5
        end as degree_change
    from ordered
)

select * from final
