-- The paper's arithmetic checked against its own printed figures: ratios of its Table 2 cells,
-- sums and shares of figures its text prints, and its Table 4. Every figure enters with the
-- interval its printed precision allows (macros/claim_recomputation.sql); no data file is read.
with printed_claims as (
    -- a figure printed as 6.8 stands for 6.75 to 6.85 (printed_step 0.1)
    select
        claim_id,
        value as mid,
        value - printed_step / 2.0 as lo,
        value + printed_step / 2.0 as hi
    from {{ ref('paper_claims') }}
),

table_2_steps as (
    -- place of the last printed digit of the Table 2 cells the checks divide: the paper prints
    -- wages as 2.1, 2.5, 12 and 16.2 and per capita GDP in whole dollars
    select * from (values
        ('manufacturing_wage', 1994, 'USA', 1.0),
        ('manufacturing_wage', 1994, 'MEX', 0.1),
        ('manufacturing_wage', 2004, 'USA', 0.1),
        ('manufacturing_wage', 2004, 'MEX', 0.1),
        ('gdp_per_capita', 1994, 'USA', 1.0),
        ('gdp_per_capita', 1994, 'MEX', 1.0),
        ('gdp_per_capita', 2004, 'USA', 1.0),
        ('gdp_per_capita', 2004, 'MEX', 1.0)
    ) as steps (indicator, column_year, country, printed_step)
),

table_2_printed as (
    select
        table_2.indicator,
        table_2.column_year,
        table_2.country,
        table_2.value as mid,
        table_2.value - steps.printed_step / 2.0 as lo,
        table_2.value + steps.printed_step / 2.0 as hi
    from {{ ref('paper_table_2_asymmetries') }} as table_2
    inner join table_2_steps as steps using (indicator, column_year, country)
),

table_4_printed as (
    -- Table 4 prints percentages to one decimal
    select
        characteristic,
        value_pct as mid,
        value_pct - 0.05 as lo,
        value_pct + 0.05 as hi
    from {{ ref('paper_table_4_social_characteristics') }}
    where population_group = 'mexican_emigrants'
),

table_2_ratios as (
    select
        case usa.indicator
            when 'gdp_per_capita' then 'nafta_gdp_per_capita_ratio_' || usa.column_year || '_table_2'
            else 'nafta_wage_ratio_' || usa.column_year
        end as claim_id,
        {{ claim_columns(claim_div(claim_interval('usa'), claim_interval('mex'))) }}
    from table_2_printed as usa
    inner join table_2_printed as mex
        on mex.indicator = usa.indicator
        and mex.column_year = usa.column_year
        and mex.country = 'MEX'
    where usa.country = 'USA'
),

text_arithmetic as (
    select
        'impact_manufacturing_employment_fall_pct' as claim_id,
        {{ claim_columns(claim_scale(claim_sub(
            claim_div(claim_interval('jobs_2005'), claim_interval('jobs_1995')),
            claim_exact('1')), '100')) }}
    from printed_claims as jobs_2005, printed_claims as jobs_1995
    where jobs_2005.claim_id = 'impact_us_manufacturing_jobs_2005'
      and jobs_1995.claim_id = 'impact_us_manufacturing_jobs_1995'
    union all
    select
        'impact_mexican_based_manufacturing_workers_2005',
        {{ claim_columns(claim_add(claim_interval('disguised'), claim_interval('maquila'))) }}
    from printed_claims as disguised, printed_claims as maquila
    where disguised.claim_id = 'impact_disguised_maquila_workers_2005'
      and maquila.claim_id = 'impact_maquiladora_workers_2005'
    union all
    select
        'impact_amplified_manufacturing_workers',
        {{ claim_columns(claim_add(claim_interval('us_jobs'), claim_interval('mexican_based'))) }}
    from printed_claims as us_jobs, printed_claims as mexican_based
    where us_jobs.claim_id = 'impact_us_manufacturing_jobs_2005'
      and mexican_based.claim_id = 'impact_mexican_based_manufacturing_workers_2005'
    union all
    select
        'impact_labor_export_share_pct',
        {{ claim_columns(claim_scale(claim_div(
            claim_add(claim_add(claim_interval('in_us'), claim_interval('disguised')),
                      claim_interval('maquila')),
            claim_interval('amplified')), '100')) }}
    from
        printed_claims as in_us,
        printed_claims as disguised,
        printed_claims as maquila,
        printed_claims as amplified
    where in_us.claim_id = 'impact_mexicans_in_us_manufacturing_2005'
      and disguised.claim_id = 'impact_disguised_maquila_workers_2005'
      and maquila.claim_id = 'impact_maquiladora_workers_2005'
      and amplified.claim_id = 'impact_amplified_manufacturing_workers'
    union all
    select
        'social_born_in_mexico_share_mexican_origin',
        {{ claim_columns(claim_scale(
            claim_div(claim_interval('born_in_mexico'), claim_interval('mexican_origin')), '100')) }}
    from printed_claims as born_in_mexico, printed_claims as mexican_origin
    where born_in_mexico.claim_id = 'nafta_mexican_born_in_us_2004'
      and mexican_origin.claim_id = 'nafta_mexican_origin_population_2004'
),

table_4_claims as (
    select
        case characteristic
            when 'no_health_coverage' then 'social_no_health_coverage_pct'
            when 'university_and_postgraduate' then 'social_university_pct'
        end as claim_id,
        {{ claim_columns(claim_interval('table_4_printed')) }}
    from table_4_printed
    where characteristic in ('no_health_coverage', 'university_and_postgraduate')
),

final as (
    select *, '' as required_sources from table_2_ratios
    union all
    select *, '' from text_arithmetic
    union all
    select *, '' from table_4_claims
)

select * from final
