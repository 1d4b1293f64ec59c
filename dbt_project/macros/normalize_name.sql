{#- The matching rule of the Banxico -> INEGI name crosswalk: two names are the same when they are
    equal after lower-casing, removing accents (á -> a, ñ -> n, ü -> u) and turning every run of
    other characters (punctuation, spaces) into one space. Anything else (renamings, articles,
    abbreviations, homonyms) is a reviewed exception in a seed. -#}
{% macro normalize_name(expression) -%}
    trim(regexp_replace(lower(strip_accents({{ expression }})), '[^a-z0-9]+', ' ', 'g'))
{%- endmacro %}
