{{ config(tags=['forecast']) }}
-- How good are the projections? Every method's scores at every origin/target pair and size class,
-- with the best single baseline of the same pair and class beside each row.
with scores as (
    select * from {{ ref('stg_forecasts__skill_scores') }}
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
        min(crps) as best_baseline_crps
    from scores
    where method not in ('model', 'average')
    group by kernel, origin, target_year, size_class
),

final as (
    select
        scores.kernel,
        scores.origin,
        scores.target_year,
        scores.horizon_years,
        scores.method,
        scores.method = 'model' as is_model,
        scores.size_class,
        scores.n_units,
        scores.mdape,
        scores.mape,
        scores.median_log_error,
        scores.direction_accuracy,
        scores.crps,
        scores.coverage_90,
        scores.coverage_50,
        single_baselines.best_single_baseline,
        single_baselines.best_single_baseline_mdape,
        single_baselines.best_single_baseline_direction_accuracy,
        single_baselines.best_baseline_crps,
        scores.mdape / nullif(single_baselines.best_single_baseline_mdape, 0) - 1
            as mdape_change_vs_best_single_baseline
    from scores
    left join single_baselines
        on scores.kernel = single_baselines.kernel
        and scores.origin = single_baselines.origin
        and scores.target_year = single_baselines.target_year
        and scores.size_class = single_baselines.size_class
)

select * from final
