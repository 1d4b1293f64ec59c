{#- SQL boolean: true when ingest loaded at least one file of this raw source in this build.
    Tests that reproduce published totals use it so that they pass vacuously (and only then)
    when the source files are absent, i.e. on the embedded, paper-only default build. -#}
{% macro source_loaded(source_id) -%}
    exists (
        select 1
        from {{ source('raw', 'source_files') }}
        where source_id = '{{ source_id }}' and status = 'loaded'
    )
{%- endmacro %}
