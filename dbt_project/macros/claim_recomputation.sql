{#- Claims are judged by the precision the paper prints them at. A figure printed as 6.8 stands for
    any value in [6.75, 6.85]; a ratio of figures printed as 16.2 and 2.5 can be anything in
    [16.15 / 2.55, 16.25 / 2.45]. The macros below carry such intervals through the arithmetic of a
    recomputation: an interval is a dict {mid, lo, hi} of SQL expressions over columns, where
    ``mid`` is the value computed from the figures as printed. The figures come from CTEs of the
    int_paper_claims_*_recomputed_to_claim models; no query is written inside a Jinja string.

    Data values (Banxico, INEGI, ...) enter as exact intervals (``claim_exact``); figures printed by
    the paper enter with their rounding interval (``claim_interval`` of a row with mid, lo, hi). -#}

{#- The interval columns of a relation alias holding ``mid``, ``lo`` and ``hi`` (a printed figure). -#}
{% macro claim_interval(alias) -%}
    {{ return({'mid': alias ~ '.mid', 'lo': alias ~ '.lo', 'hi': alias ~ '.hi'}) }}
{%- endmacro %}

{#- The three recomputed columns of an interval, cast as the claims models publish them. -#}
{% macro claim_columns(interval) -%}
    cast(({{ interval.mid }}) as double) as recomputed_value,
    cast(({{ interval.lo }}) as double) as recomputed_low,
    cast(({{ interval.hi }}) as double) as recomputed_high
{%- endmacro %}

{#- An exact value (no rounding): the interval [x, x]. -#}
{% macro claim_exact(expression) -%}
    {{ return({'mid': '(' ~ expression ~ ')', 'lo': '(' ~ expression ~ ')', 'hi': '(' ~ expression ~ ')'}) }}
{%- endmacro %}

{% macro claim_add(a, b) -%}
    {{ return({'mid': '(' ~ a.mid ~ ' + ' ~ b.mid ~ ')', 'lo': '(' ~ a.lo ~ ' + ' ~ b.lo ~ ')', 'hi': '(' ~ a.hi ~ ' + ' ~ b.hi ~ ')'}) }}
{%- endmacro %}

{% macro claim_sub(a, b) -%}
    {{ return({'mid': '(' ~ a.mid ~ ' - ' ~ b.mid ~ ')', 'lo': '(' ~ a.lo ~ ' - ' ~ b.hi ~ ')', 'hi': '(' ~ a.hi ~ ' - ' ~ b.lo ~ ')'}) }}
{%- endmacro %}

{#- Product and quotient: the extremes are among the four corner combinations (any signs). A
    divisor interval that contains 0 gives NULL bounds, i.e. no verdict. -#}
{% macro claim_mul(a, b) -%}
    {%- set corners = [a.lo ~ ' * ' ~ b.lo, a.lo ~ ' * ' ~ b.hi, a.hi ~ ' * ' ~ b.lo, a.hi ~ ' * ' ~ b.hi] -%}
    {{ return({'mid': '(' ~ a.mid ~ ' * ' ~ b.mid ~ ')', 'lo': 'least(' ~ corners | join(', ') ~ ')', 'hi': 'greatest(' ~ corners | join(', ') ~ ')'}) }}
{%- endmacro %}

{% macro claim_div(a, b) -%}
    {%- set safe = 'case when ' ~ b.lo ~ ' * ' ~ b.hi ~ ' > 0 then 1.0 end' -%}
    {%- set corners = [a.lo ~ ' / ' ~ b.lo, a.lo ~ ' / ' ~ b.hi, a.hi ~ ' / ' ~ b.lo, a.hi ~ ' / ' ~ b.hi] -%}
    {{ return({
        'mid': '(' ~ a.mid ~ ' / nullif(' ~ b.mid ~ ', 0))',
        'lo': '(' ~ safe ~ ' * least(' ~ corners | join(', ') ~ '))',
        'hi': '(' ~ safe ~ ' * greatest(' ~ corners | join(', ') ~ '))'
    }) }}
{%- endmacro %}

{#- Multiply by an exact constant (100 for percentages, 1000 for thousands); k may be negative. -#}
{% macro claim_scale(a, k) -%}
    {{ return(claim_mul(a, claim_exact(k))) }}
{%- endmacro %}

{#- A number for the verdict's explanation, with thousands separators, to the precision that
    matters next to a claim printed with ``step``: 'printed' as the paper prints it (6.8),
    'bound' to the half step of a rounding interval (6.75), 'value' one digit finer (6.751), so a
    value just outside an interval never reads as its bound (whole numbers stay whole). -#}
{% macro claim_format(expression, step, kind) -%}
    {%- set factor, extra = {'printed': (1, 0), 'bound': (0.5, 0), 'value': (0.5, 1)}[kind] -%}
    format('{:,.{}f}', ({{ expression }}),
        cast(case
            when '{{ kind }}' = 'value' and ({{ expression }}) = round({{ expression }}) then 0
            else greatest(0, -floor(log10(({{ step }}) * {{ factor }})) + {{ extra }})
        end as integer))
{%- endmacro %}
