-- The paper's claims about the Mexican-born population in the US, recomputed from the UN DESA
-- migrant stock (five-yearly). One row per claim, NULL values when the stock is not loaded.
with mexican_born_in_us as (
    select year, migrants
    from {{ ref('stg_un__migrant_stocks') }}
    where direction = 'inbound' and area = 'Mexico'
),

stock as (
    -- one row whatever is loaded: aggregates over no row are NULL
    select
        max(migrants) filter (where year = 1990) as stock_1990,
        max(migrants) filter (where year = 1995) as stock_1995,
        max(migrants) filter (where year = 2000) as stock_2000,
        max(migrants) filter (where year = 2005) as stock_2005
    from mexican_born_in_us
),

recomputed as (
    -- the stock is five-yearly: interpolated linearly to 2004
    select
        'nafta_mexican_born_in_us_2004' as claim_id,
        {{ claim_columns(claim_exact('0.2 * stock_2000 + 0.8 * stock_2005')) }}
    from stock
    union all
    select
        'nafta_annual_emigration_1990_1995',
        {{ claim_columns(claim_exact('(stock_1995 - stock_1990) / 5.0')) }}
    from stock
),

final as (
    select *, 'un_migrant_stock' as required_sources from recomputed
)

select * from final
