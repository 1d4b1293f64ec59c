-- Annual remittance income with Mexico's GDP (World Bank, current USD) as the yardstick.
with monthly as (
    select * from {{ ref('fct_remittances_monthly') }}
),

mexico_gdp as (
    select year, gdp_usd
    from {{ ref('int_worldbank_indicators_joined_to_country_year') }}
    where country_code = 'MEX'
),

annual as (
    select
        cast(year(month) as smallint) as year,
        sum(remittances_usd) as remittances_usd,
        -- only when every observed month could be converted: a partial peso total would mislead
        case when count(usdmxn_rate) = count(*) then sum(remittances_mxn) end as remittances_mxn,
        sum(operations) as operations,
        count(*) as months_observed
    from monthly
    group by year(month)
),

final as (
    select
        annual.year,
        annual.remittances_usd,
        annual.remittances_mxn,
        annual.operations,
        annual.remittances_usd / nullif(annual.operations, 0) as mean_usd_per_operation,
        mexico_gdp.gdp_usd,
        -- a share of annual GDP only makes sense for a full year of remittances
        case
            when annual.months_observed = 12
                then 100 * annual.remittances_usd / nullif(mexico_gdp.gdp_usd, 0)
        end as remittances_pct_gdp,
        annual.months_observed
    from annual
    left join mexico_gdp using (year)
)

select * from final
