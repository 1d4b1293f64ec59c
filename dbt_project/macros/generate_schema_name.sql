{#- Use the folder's schema name as is (staging, intermediate, seeds) instead of dbt's
    default '<target>_<custom>' so analysts query main.fct_... and seeds.paper_claims. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
