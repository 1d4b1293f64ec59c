-- Every quantitative claim of the paper next to the warehouse's recomputation of it, with a
-- verdict by the precision the paper prints at: the claim stands for its rounding interval (6.8:
-- 6.75 to 6.85), the recomputation for the interval its inputs allow (data exact, the paper's
-- printed figures with their rounding), and the two agree when the intervals meet.

with claims as (
    select * from {{ ref('paper_claims') }}
),

recomputed as (
    select * from {{ ref('int_paper_claims_recomputed_to_claim') }}
),

loaded_sources as (
    select distinct source_id
    from {{ ref('stg_ingest__source_files') }}
    where is_loaded
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
        claims.printed_step,
        claims.value - claims.printed_step / 2.0 as paper_low,
        claims.value + claims.printed_step / 2.0 as paper_high,
        claims.unit,
        claims.location,
        claims.check_method,
        claims.discrepancy_note,
        recomputed.recomputed_value,
        recomputed.recomputed_low,
        recomputed.recomputed_high,
        coalesce(recomputed.required_sources, '') = '' as uses_paper_only,
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
            when recomputed_low is null or recomputed_high is null then 'not_checkable'
            when recomputed_low <= paper_high and recomputed_high >= paper_low then 'consistent'
            else 'inconsistent'
        end as status,
        'the paper prints ' || {{ claim_format('paper_value', 'printed_step', 'printed') }}
            || ' (' || {{ claim_format('paper_low', 'printed_step', 'bound') }}
            || ' to ' || {{ claim_format('paper_high', 'printed_step', 'bound') }} || ')' as paper_interval_text,
        case
            when recomputed_low = recomputed_high
                then 'the data give ' || {{ claim_format('recomputed_value', 'printed_step', 'value') }}
            when {{ claim_format('recomputed_low', 'printed_step', 'value') }}
                = {{ claim_format('recomputed_high', 'printed_step', 'value') }}
                then
                    case when uses_paper_only then 'its own printed figures give '
                         else 'the data with the paper''s printed figures give ' end
                    || {{ claim_format('recomputed_value', 'printed_step', 'value') }}
            when {{ claim_format('recomputed_low', 'printed_step', 'bound') }}
                = {{ claim_format('recomputed_high', 'printed_step', 'bound') }}
                then
                    case when uses_paper_only then 'its own printed figures allow '
                         else 'the data with the paper''s printed figures allow ' end
                    || {{ claim_format('recomputed_low', 'printed_step', 'value') }} || ' to '
                    || {{ claim_format('recomputed_high', 'printed_step', 'value') }}
            else
                case when uses_paper_only then 'its own printed figures allow '
                     else 'the data with the paper''s printed figures allow ' end
                || {{ claim_format('recomputed_low', 'printed_step', 'bound') }} || ' to '
                || {{ claim_format('recomputed_high', 'printed_step', 'bound') }}
        end as recomputed_interval_text
    from compared
),

final as (
    select
        claim_id,
        claim,
        paper_value,
        printed_step,
        paper_low,
        paper_high,
        unit,
        location,
        recomputed_value,
        recomputed_low,
        recomputed_high,
        relative_difference,
        status,
        case
            when check_method like 'not_checkable%'
                then 'Not checkable: ' || trim(substr(check_method, length('not_checkable:') + 1)) || '.'
            when status = 'not_checkable' and missing is not null
                then 'Not checked in this build: source files not loaded (' || missing || '); method: '
                    || check_method || '.'
            when status = 'not_checkable'
                then 'Not checked: the loaded data do not cover it; method: ' || check_method || '.'
            when status = 'consistent'
                then 'Consistent at the printed precision: ' || paper_interval_text || ' and '
                    || recomputed_interval_text || '. Method: ' || check_method || '.'
                    || coalesce(' ' || nullif(discrepancy_note, '') || '.', '')
            else 'Inconsistent at the printed precision: ' || paper_interval_text || ' but '
                || recomputed_interval_text || ' (' || printf('%+.1f', 100 * relative_difference)
                || ' %). Method: ' || check_method || '. '
                || coalesce(nullif(discrepancy_note, ''), 'No explanation recorded yet') || '.'
        end as explanation
    from judged
)

select * from final
