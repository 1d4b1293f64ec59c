-- Mexican-born population living in the US against all the US foreign-born (UN DESA stock).
with stocks as (
    select * from {{ ref('stg_un__migrant_stocks') }}
    where direction = 'inbound'
),

by_year as (
    select
        year,
        max(migrants) filter (where area = 'Mexico') as mexican_born_in_us,
        max(migrants) filter (where area = 'Total') as us_foreign_born_total
    from stocks
    group by year
),

final as (
    select
        year,
        mexican_born_in_us,
        us_foreign_born_total,
        100.0 * mexican_born_in_us / nullif(us_foreign_born_total, 0) as mexican_share_of_foreign_born_pct,
        'UN DESA International Migrant Stock (un/usa_migration.csv)' as source
    from by_year
)

select * from final
