-- Remittance income by state and quarter, with each state's share of the quarter's total.
with state_quarters as (
    select * from {{ ref('stg_banxico__state_remittances') }}
),

states as (
    select cve_ent, state_name from {{ ref('inegi_states') }}
),

final as (
    select
        state_quarters.quarter_start,
        cast(year(state_quarters.quarter_start) as smallint) as year,
        cast(quarter(state_quarters.quarter_start) as smallint) as quarter,
        state_quarters.cve_ent,
        states.state_name,
        state_quarters.remittances_usd,
        100 * state_quarters.remittances_usd
            / nullif(sum(state_quarters.remittances_usd) over (partition by state_quarters.quarter_start), 0)
            as national_share_pct
    from state_quarters
    left join states using (cve_ent)
)

select * from final
