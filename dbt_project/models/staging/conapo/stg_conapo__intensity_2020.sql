-- CONAPO 2020 migration intensity index, one row per municipality, in warehouse vocabulary.
with source as (
    select * from {{ source('raw', 'conapo_iim_2020') }}
),

renamed as (
    select
        -- published as one unpadded integer, state key then 3-digit municipality key (1001)
        lpad(cast(cve_mun as varchar), 5, '0') as cve_mun,
        lpad(cast(cve_ent as varchar), 2, '0') as cve_ent,
        nom_mun as municipality_name,
        cast(2020 as smallint) as index_year,
        -- 2020 indicators are shares of inhabited private dwellings, as in 2010
        'dwellings' as household_unit,
        viv_tot as households,
        viv_rem as pct_households_remittances,
        viv_emig as pct_households_emigrants,
        viv_circ as pct_households_circular,
        viv_ret as pct_households_return,
        -- CONAPO 2020 publishes a DP2 distance index: LOWER values mean MORE intensity
        iim_dp2 as intensity_index,
        case gim_dp2
            when 'Muy alto' then 'very_high'
            when 'Alto' then 'high'
            when 'Medio' then 'medium'
            when 'Bajo' then 'low'
            when 'Muy bajo' then 'very_low'
            when 'Nulo' then 'null'
        end as intensity_degree,
        gim_dp2 as intensity_degree_published,
        pos_nal as rank_in_country,
        file_name,
        line_number
    from source
)

select * from renamed
