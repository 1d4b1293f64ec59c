{#- Claims are judged by the precision the paper prints them at. A figure printed as 6.8 stands for
    any value in [6.75, 6.85]; a ratio of figures printed as 16.2 and 2.5 can be anything in
    [16.15 / 2.55, 16.25 / 2.45]. The macros below carry such intervals through the arithmetic of a
    recomputation as SQL expressions: an interval is a dict {mid, lo, hi} where ``mid`` is the value
    computed from the figures as printed.

    Data values (Banxico, INEGI, ...) enter as exact intervals (``claim_exact``); figures printed by
    the paper enter with their rounding interval (``claim_printed``, ``paper_claim_interval``). -#}

{#- One row of int_paper_claims_recomputed_to_claim. ``recomputation`` is a scalar SQL expression
    (an exact value: data, or an exact count) or an interval dict built with the macros below;
    ``required_sources`` are the raw sources it reads (empty when it uses only the paper). -#}
{% macro claim_recomputation(claim_id, recomputation, required_sources=[]) -%}
    {%- set interval = recomputation if recomputation is mapping else claim_exact(recomputation) -%}
    select
        '{{ claim_id }}' as claim_id,
        cast(({{ interval.mid }}) as double) as recomputed_value,
        cast(({{ interval.lo }}) as double) as recomputed_low,
        cast(({{ interval.hi }}) as double) as recomputed_high,
        '{{ required_sources | join(",") }}' as required_sources
{%- endmacro %}

{#- An exact value (no rounding): the interval [x, x]. -#}
{% macro claim_exact(expression) -%}
    {{ return({'mid': '(' ~ expression ~ ')', 'lo': '(' ~ expression ~ ')', 'hi': '(' ~ expression ~ ')'}) }}
{%- endmacro %}

{#- A figure the paper prints with its last digit in the place ``step`` (0.1 for 6.8, 1 for 12,
    100000 for "2.3 million"): the interval [x - step/2, x + step/2]. -#}
{% macro claim_printed(expression, step) -%}
    {%- set x = '(' ~ expression ~ ')' -%}
    {{ return({'mid': x, 'lo': '(' ~ x ~ ' - ' ~ step ~ ' / 2.0)', 'hi': '(' ~ x ~ ' + ' ~ step ~ ' / 2.0)'}) }}
{%- endmacro %}

{#- The value the paper prints for another claim (an input of an arithmetic check), as printed. -#}
{% macro paper_claim_value(claim_id) -%}
    (select value from {{ ref('paper_claims') }} where claim_id = '{{ claim_id }}')
{%- endmacro %}

{#- ... and with its rounding interval, from the claim's own printed_step. -#}
{% macro paper_claim_interval(claim_id) -%}
    {%- set step = '(select printed_step from ' ~ ref('paper_claims') ~ " where claim_id = '" ~ claim_id ~ "')" -%}
    {{ return(claim_printed(paper_claim_value(claim_id), step)) }}
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
