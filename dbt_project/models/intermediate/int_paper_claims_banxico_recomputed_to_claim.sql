-- The paper's claims about remittance income, recomputed from Banxico's monthly series (a year
-- counts only when its twelve months are published). One row per claim.
with income as (
    select month, remittances_usd
    from {{ ref('stg_banxico__remittance_flows') }}
    where flow = 'income'
),

annual as (
    select year(month) as year, sum(remittances_usd) as remittances_usd, count(*) as months
    from income
    group by year(month)
),

full_years as (
    select
        max(remittances_usd) filter (where year = 2004 and months = 12) as remittances_2004,
        max(remittances_usd) filter (where year = 2005 and months = 12) as remittances_2005
    from annual
),

tres_por_uno as (
    -- Table 3 prints "more than USD 50 million": one significant digit (step USD 10 million)
    select
        max(value) as mid,
        max(value) - 10000000 / 2.0 as lo,
        max(value) + 10000000 / 2.0 as hi
    from {{ ref('paper_table_3_programs') }}
    where program = 'Programa Tres por Uno' and unit = 'usd' and year = 2004
),

recomputed as (
    select
        'nafta_remittances_2005_usd' as claim_id,
        {{ claim_columns(claim_exact('remittances_2005')) }}
    from full_years
    union all
    select
        'programs_tres_por_uno_share_of_remittances_2004',
        {{ claim_columns(claim_scale(
            claim_div(claim_interval('tres_por_uno'), claim_exact('full_years.remittances_2004')),
            '100')) }}
    from full_years
    cross join tres_por_uno
),

final as (
    select *, 'banxico_remittances_monthly' as required_sources from recomputed
)

select * from final
