-- National remittance income (Banxico ID_FLUJO 1) by month, in USD and, where a rate exists, MXN.
with flows as (
    select * from {{ ref('stg_banxico__remittance_flows') }}
    where flow = 'income'
),

rates as (
    select * from {{ ref('stg_banxico__exchange_rates') }}
),

final as (
    select
        flows.month,
        flows.remittances_usd,
        flows.operations,
        flows.remittances_usd / nullif(flows.operations, 0) as mean_usd_per_operation,
        rates.usdmxn_rate,
        -- NULL where Banxico publishes no rate for the month: no invented conversion
        flows.remittances_usd * rates.usdmxn_rate as remittances_mxn
    from flows
    left join rates using (month)
)

select * from final
