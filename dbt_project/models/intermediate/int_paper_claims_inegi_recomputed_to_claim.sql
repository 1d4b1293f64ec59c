-- The paper's claims about municipal depopulation 2000-2005, recomputed from INEGI's census and
-- count. One row per claim, NULL values when the censuses are not loaded.
with growth_2000_2005 as (
    select is_depopulating
    from {{ ref('int_municipal_populations_paired_to_period') }}
    where period = '2000-2005'
),

counted as (
    select
        count(*) as municipalities,
        count(*) filter (where is_depopulating) as depopulating
    from growth_2000_2005
),

recomputed as (
    select
        'nafta_municipalities_2000_2005' as claim_id,
        {{ claim_columns(claim_exact('nullif(municipalities, 0)')) }}
    from counted
    union all
    select
        'nafta_depopulating_municipalities_2000_2005',
        {{ claim_columns(claim_exact('case when municipalities > 0 then depopulating end')) }}
    from counted
    union all
    select
        'nafta_depopulating_share_2000_2005',
        {{ claim_columns(claim_exact('100.0 * depopulating / nullif(municipalities, 0)')) }}
    from counted
),

final as (
    select *, 'inegi_census' as required_sources from recomputed
)

select * from final
