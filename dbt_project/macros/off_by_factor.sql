{#- True when `value` and `neighbour` differ by more than `factor` either way; a neighbour at or
    below zero is off by any factor (plausible_change compares positive amounts). -#}
{% macro off_by_factor(value, neighbour, factor) -%}
    ({{ value }} > {{ neighbour }} * {{ factor }} or {{ value }} * {{ factor }} < {{ neighbour }} or {{ neighbour }} <= 0)
{%- endmacro %}
