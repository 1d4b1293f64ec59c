{{ config(tags=['forecast']) }}
-- How good are the projections? Every method's scores at every origin/target pair and size class,
-- with the best single baseline and the baselines' average of the same pair and class beside
-- each row, and the published method flagged.
with scores as (
    select * from {{ ref('stg_forecasts__skill_scores') }}
),

methods as (
    select kernel, candidate as method, role, is_chosen
    from {{ ref('stg_forecasts__method_choice') }}
    where choice = 'method'
),

scored as (
    select
        scores.*,
        coalesce(methods.role, 'other') as role,
        coalesce(methods.is_chosen, false) as is_published_method
    from scores
    left join methods on scores.kernel = methods.kernel and scores.method = methods.method
),

single_baselines as (
    select
        kernel,
        origin,
        target_year,
        size_class,
        arg_min(method, mdape) as best_single_baseline,
        min(mdape) as best_single_baseline_mdape,
        max(direction_accuracy) as best_single_baseline_direction_accuracy,
        max(decline_f1) as best_single_baseline_decline_f1,
        min(crps) as best_baseline_crps
    from scored
    where role = 'single_baseline'
    group by kernel, origin, target_year, size_class
),

averages as (
    select kernel, origin, target_year, size_class, mdape as average_mdape
    from scored
    where role = 'average'
),

final as (
    select
        scored.kernel,
        scored.origin,
        scored.target_year,
        scored.horizon_years,
        scored.method,
        scored.role,
        scored.method = 'model' as is_model,
        scored.is_published_method,
        scored.size_class,
        scored.n_units,
        scored.mdape,
        scored.mape,
        scored.median_log_error,
        scored.direction_accuracy,
        scored.decline_recall,
        scored.decline_precision,
        scored.decline_f1,
        scored.crps,
        scored.coverage_90,
        scored.coverage_50,
        scored.interval_score,
        single_baselines.best_single_baseline,
        single_baselines.best_single_baseline_mdape,
        single_baselines.best_single_baseline_direction_accuracy,
        single_baselines.best_single_baseline_decline_f1,
        single_baselines.best_baseline_crps,
        averages.average_mdape,
        scored.mdape / nullif(single_baselines.best_single_baseline_mdape, 0) - 1
            as mdape_change_vs_best_single_baseline
    from scored
    left join single_baselines
        on scored.kernel = single_baselines.kernel
        and scored.origin = single_baselines.origin
        and scored.target_year = single_baselines.target_year
        and scored.size_class = single_baselines.size_class
    left join averages
        on scored.kernel = averages.kernel
        and scored.origin = averages.origin
        and scored.target_year = averages.target_year
        and scored.size_class = averages.size_class
)

select * from final
