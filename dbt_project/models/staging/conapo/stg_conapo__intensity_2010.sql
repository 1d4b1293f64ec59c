-- CONAPO 2010 migration intensity index, one row per municipality, in warehouse vocabulary.
with source as (
    select * from {{ source('raw', 'conapo_iim_2010') }}
),

renamed as (
    select
        lpad(cast(ent as varchar), 2, '0') || lpad(cast(mun as varchar), 3, '0') as cve_mun,
        lpad(cast(ent as varchar), 2, '0') as cve_ent,
        nom_mun as municipality_name,
        cast(2010 as smallint) as index_year,
        -- 2010 indicators are shares of occupied dwellings, not households
        'dwellings' as household_unit,
        tot_viv as households,
        viv_rem as pct_households_remittances,
        viv_emig as pct_households_emigrants,
        viv_circ as pct_households_circular,
        viv_ret as pct_households_return,
        iim_2010 as intensity_index,
        iim0a100 as intensity_index_0_100,
        -- published as '<rank> <Spanish label>', e.g. '5 Muy Alto'; the rank is authoritative
        case trim(split_part(trim(gim_2010), ' ', 1))
            when '5' then 'very_high'
            when '4' then 'high'
            when '3' then 'medium'
            when '2' then 'low'
            when '1' then 'very_low'
            when '0' then 'null'
        end as intensity_degree,
        gim_2010 as intensity_degree_published,
        lug_edo as rank_in_state,
        lug_nal as rank_in_country,
        file_name,
        line_number
    from source
)

select * from renamed
