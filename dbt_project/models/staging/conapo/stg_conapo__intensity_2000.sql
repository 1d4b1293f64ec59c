-- CONAPO 2000 migration intensity index, one row per municipality, in warehouse vocabulary.
with source as (
    select * from {{ source('raw', 'conapo_iim_2000') }}
),

renamed as (
    select
        lpad(cast(fe_id as varchar), 2, '0') || lpad(cast(mun_id as varchar), 3, '0') as cve_mun,
        lpad(cast(fe_id as varchar), 2, '0') as cve_ent,
        mun_name as municipality_name,
        cast(2000 as smallint) as index_year,
        'households' as household_unit,
        tot_huo as households,
        hou_rem as pct_households_remittances,
        -- the repository labelled this column HOU_REM_LAST_5_YEARS; CONAPO's indicator is
        -- households with emigrants to the US 1995-2000
        hou_rem_last_5_years as pct_households_emigrants,
        hou_cir as pct_households_circular,
        hou_ret as pct_households_return,
        iim_2000 as intensity_index,
        case lower(trim(gim_2000))
            when 'very high' then 'very_high'
            when 'high' then 'high'
            when 'medium' then 'medium'
            when 'low' then 'low'
            when 'very low' then 'very_low'
            when 'null' then 'null'
        end as intensity_degree,
        gim_2000 as intensity_degree_published,
        file_name,
        line_number
    from source
)

select * from renamed
