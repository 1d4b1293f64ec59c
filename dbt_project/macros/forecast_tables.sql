{#- The tables the refresh's forecast step writes (migsys.projections.forecast_refresh), created
    empty when absent, so that a plain `dbt build` — without the forecast step, e.g. on a
    warehouse file built by hand — still builds the forecast models (with no rows). The column
    lists are projections.skill.SKILL_COLUMNS, projections.evaluation.FORECAST_COLUMNS and
    projections.selection.CHOICE_COLUMNS; a test keeps them equal. -#}
{% macro create_forecast_tables() -%}
    create schema if not exists forecasts;
    create table if not exists forecasts.skill_scores (
        kernel varchar, origin integer, target_year integer, horizon_years double,
        method varchar, size_class varchar, n_units integer, mdape double, mape double,
        median_log_error double, direction_accuracy double, decline_recall double,
        decline_precision double, decline_f1 double, crps double, coverage_90 double,
        coverage_50 double, interval_score double
    );
    create table if not exists forecasts.published_forecasts (
        kernel varchar, method varchar, origin integer, unit varchar, year integer, p05 double,
        p25 double, p50 double, p75 double, p95 double, observed double
    );
    create table if not exists forecasts.method_choice (
        kernel varchar, choice varchar, candidate varchar, role varchar, criterion varchar,
        value double, pairs integer, is_chosen boolean, rule varchar
    );
{%- endmacro %}
