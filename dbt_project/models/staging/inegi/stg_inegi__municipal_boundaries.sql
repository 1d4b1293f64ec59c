-- INEGI's municipal boundaries as a topology: geometries (per municipality) and shared arcs.
with source as (
    select * from {{ source('raw', 'inegi_municipal_boundaries') }}
),

renamed as (
    select
        element,
        element_index,
        cve_mun,
        substr(cve_mun, 1, 2) as cve_ent,
        geometry_type,
        -- JSON text: rings of arc references (geometries), quantized delta-encoded positions (arcs)
        arcs as arc_references,
        positions as arc_positions,
        scale_x,
        scale_y,
        translate_x,
        translate_y,
        file_name
    from source
)

select * from renamed
