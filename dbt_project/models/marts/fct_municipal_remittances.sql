{{ config(tags=['forecast']) }}
-- Remittance income by municipality and year with the measures of remittance dependence: USD
-- per inhabitant (population estimated on 1 July, fct_municipal_population_estimates) and per
-- dwelling receiving remittances (CONAPO 2020), each ranked within the year.
with quarterly as (
    select * from {{ ref('fct_municipal_remittances_quarterly') }}
),

population as (
    select * from {{ ref('fct_municipal_population_estimates') }}
),

municipalities as (
    select cve_mun, first_census_year from {{ ref('dim_municipality') }}
),

conapo_2020 as (
    select
        cve_mun,
        households as dwellings_2020,
        pct_households_remittances as pct_dwellings_remittances_2020
    from {{ ref('fct_migration_intensity') }}
    where index_year = 2020
),

state_years as (
    -- everything Banxico places in the state: municipalities, unmatched names, 'No identificado'
    select cve_ent, year, sum(remittances_usd) as state_usd
    from quarterly
    group by cve_ent, year
),

national_years as (
    select year, sum(remittances_usd) as national_usd
    from quarterly
    group by year
),

by_year as (
    select
        cve_mun,
        any_value(cve_ent) as cve_ent,
        year,
        count(*) as quarters_observed,
        sum(remittances_usd) as remittances_usd
    from quarterly
    where cve_mun is not null
    group by cve_mun, year
),

measured as (
    select
        by_year.*,
        100.0 * by_year.remittances_usd / nullif(state_years.state_usd, 0) as state_share_pct,
        100.0 * by_year.remittances_usd / nullif(national_years.national_usd, 0)
            as national_share_pct,
        population.population_estimate,
        population.population_method,
        by_year.remittances_usd / nullif(population.population_estimate, 0) as usd_per_inhabitant,
        conapo_2020.dwellings_2020,
        conapo_2020.pct_dwellings_remittances_2020,
        conapo_2020.dwellings_2020 * conapo_2020.pct_dwellings_remittances_2020 / 100.0
            as remittance_dwellings_2020,
        municipalities.first_census_year > 2010 as created_after_2010
    from by_year
    inner join state_years using (cve_ent, year)
    inner join national_years using (year)
    left join population using (cve_mun, year)
    left join conapo_2020 using (cve_mun)
    left join municipalities using (cve_mun)
),

final as (
    select
        cve_mun,
        cve_ent,
        year,
        quarters_observed,
        remittances_usd,
        state_share_pct,
        national_share_pct,
        population_estimate,
        population_method,
        usd_per_inhabitant,
        dwellings_2020,
        pct_dwellings_remittances_2020,
        remittance_dwellings_2020,
        remittances_usd / nullif(remittance_dwellings_2020, 0) as usd_per_remittance_dwelling,
        case when usd_per_inhabitant is not null
            then rank() over (
                partition by year, usd_per_inhabitant is null order by usd_per_inhabitant desc
            )
        end as rank_usd_per_inhabitant,
        case when remittance_dwellings_2020 > 0
            then rank() over (
                partition by year, coalesce(remittance_dwellings_2020, 0) > 0
                order by remittances_usd / nullif(remittance_dwellings_2020, 0) desc
            )
        end as rank_usd_per_remittance_dwelling,
        coalesce(created_after_2010, false) as created_after_2010,
        case
            when population_estimate is null and created_after_2010
                then 'no population: municipality created after the 2010 census, first counted '
                    || 'in 2020 (not imputed)'
            when population_estimate is null
                then 'no population estimate for this year (not imputed)'
            when population_method = 'census_interpolation'
                then 'population interpolated between censuses'
            else 'population estimated from the 2020 census and the published forecast (p50)'
        end as population_note
    from measured
)

select * from final
