{#- One row of int_paper_claims_recomputed_to_claim: the claim id, the recomputed value (a scalar
    SQL expression, NULL when the data are missing) and the raw sources the recomputation needs
    (an empty list when it only uses figures printed in the paper). -#}
{% macro claim_recomputation(claim_id, expression, required_sources=[]) -%}
    select
        '{{ claim_id }}' as claim_id,
        cast(({{ expression }}) as double) as recomputed_value,
        '{{ required_sources | join(",") }}' as required_sources
{%- endmacro %}

{#- The value the paper prints for another claim or table cell (inputs of arithmetic checks). -#}
{% macro paper_claim_value(claim_id) -%}
    (select value from {{ ref('paper_claims') }} where claim_id = '{{ claim_id }}')
{%- endmacro %}
