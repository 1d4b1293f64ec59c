-- CONAPO's 2000, 2010 and 2020 indices stacked into one municipality x index-year table.
with index_2000 as (
    select * from {{ ref('stg_conapo__intensity_2000') }}
),

index_2010 as (
    select * from {{ ref('stg_conapo__intensity_2010') }}
),

index_2020 as (
    select * from {{ ref('stg_conapo__intensity_2020') }}
),

unioned as (
    {% for relation in ['index_2000', 'index_2010', 'index_2020'] %}
    select
        cve_mun,
        cve_ent,
        municipality_name,
        index_year,
        household_unit,
        households,
        pct_households_remittances,
        pct_households_emigrants,
        pct_households_circular,
        pct_households_return,
        intensity_index,
        intensity_degree
    from {{ relation }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from unioned
