-- What ingest did with each registered source file in this build (raw.source_files): the
-- layer above staging learns from here which sources were loaded.
with source as (
    select * from {{ source('raw', 'source_files') }}
),

renamed as (
    select
        source_id,
        file_name,
        status,
        status = 'loaded' as is_loaded,
        origin,
        rows_loaded,
        rows_rejected,
        release_date,
        period_start,
        period_end
    from source
)

select * from renamed
