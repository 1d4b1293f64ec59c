{#- The one vocabulary of migration-intensity degrees used by every mart (docs/CONTRACTS.md). -#}
{% macro intensity_degrees() -%}
    {{ return(['very_high', 'high', 'medium', 'low', 'very_low', 'null']) }}
{%- endmacro %}
