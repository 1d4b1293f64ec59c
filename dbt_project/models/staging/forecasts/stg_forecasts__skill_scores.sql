{{ config(tags=['forecast']) }}
-- Scores of every method at every origin/target pair and size class (rolling-origin evaluation).
with source as (
    select * from {{ source('forecasts', 'skill_scores') }}
),

renamed as (
    select
        kernel,
        cast(origin as smallint) as origin,
        cast(target_year as smallint) as target_year,
        horizon_years,
        method,
        size_class,
        n_units,
        mdape,
        mape,
        median_log_error,
        direction_accuracy,
        decline_recall,
        decline_precision,
        decline_f1,
        crps,
        coverage_90,
        coverage_50,
        interval_score
    from source
)

select * from renamed
