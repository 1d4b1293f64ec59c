-- Every quantitative claim of the paper next to the warehouse's recomputation of it, with a
-- verdict and the reason, so analysts see where paper and data disagree and why.
{%- set tolerance = var('claims_relative_tolerance') %}

with claims as (
    select * from {{ ref('paper_claims') }}
),

recomputed as (
    select * from {{ ref('int_paper_claims_recomputed_to_claim') }}
),

loaded_sources as (
    select distinct source_id
    from {{ source('raw', 'source_files') }}
    where status = 'loaded'
),

missing_sources as (
    -- the raw sources a recomputation needs that this build did not load
    select
        recomputed.claim_id,
        string_agg(needed.source_id, ', ' order by needed.source_id) as missing
    from recomputed
    cross join unnest(string_split(recomputed.required_sources, ',')) as needed(source_id)
    where needed.source_id <> ''
      and needed.source_id not in (select source_id from loaded_sources)
    group by recomputed.claim_id
),

compared as (
    select
        claims.claim_id,
        claims.claim,
        claims.value as paper_value,
        claims.unit,
        claims.location,
        claims.check_method,
        claims.discrepancy_note,
        recomputed.recomputed_value,
        missing_sources.missing,
        (recomputed.recomputed_value - claims.value) / nullif(abs(claims.value), 0) as relative_difference
    from claims
    left join recomputed using (claim_id)
    left join missing_sources using (claim_id)
),

judged as (
    select
        *,
        case
            when recomputed_value is null then 'not_checkable'
            when abs(relative_difference) <= {{ tolerance }} then 'consistent'
            else 'inconsistent'
        end as status
    from compared
),

final as (
    select
        claim_id,
        claim,
        paper_value,
        unit,
        location,
        recomputed_value,
        relative_difference,
        status,
        case
            when check_method like 'not_checkable%'
                then 'Not checkable: ' || trim(substr(check_method, length('not_checkable:') + 1)) || '.'
            when recomputed_value is null and missing is not null
                then 'Not checked in this build: source files not loaded (' || missing || '); method: '
                    || check_method || '.'
            when recomputed_value is null
                then 'Not checked: the loaded data do not cover it; method: ' || check_method || '.'
            when status = 'consistent'
                then 'Consistent within ' || {{ tolerance * 100 }} || ' % (difference '
                    || printf('%+.1f', 100 * relative_difference) || ' %): ' || check_method || '.'
                    || coalesce(' ' || nullif(discrepancy_note, '') || '.', '')
            else 'Differs by ' || printf('%+.1f', 100 * relative_difference) || ' % (tolerance '
                || {{ tolerance * 100 }} || ' %): ' || check_method || '. '
                || coalesce(nullif(discrepancy_note, ''), 'No explanation recorded yet') || '.'
        end as explanation
    from judged
)

select * from final
