-- Finished sensitivity studies; one row each.
with source as (
    select * from {{ source('sweeps', 'studies') }}
),

renamed as (
    select
        study,
        kernel,
        design,
        description,
        fingerprint,
        code_version,
        data_fingerprint,
        n_scenarios,
        chunk_size,
        seed,
        swept_parameters,
        kept_outputs,
        years,
        spec,
        fixed_parameters,
        started_at,
        finished_at,
        run_seconds,
        scenarios_per_second,
        analyzed,
        analysis_warnings,
        len(analysis_warnings) as analysis_warning_count,
        parts_glob
    from source
)

select * from renamed
