{#- Plausibility of a series: fails on values that cannot be true next to their neighbours.

    A number cut short or mistyped keeps its type and its sign, so range tests pass it; next to
    the values before and after it, it stands out. Within each `partition_by` group, ordered by
    `order_by`:
    - compare = 'previous': the value differs from the one before it by more than `max_factor`,
      up or down (an exchange rate that jumps by half in a month);
    - compare = 'neighbours': the value differs by more than `max_factor` from every neighbour
      it has, before and after (a month at 1 % of both its neighbours): an isolated spike or
      dip, while a lasting change of level passes.
    Zero and negative neighbours count as off by any factor. `accepted` lists rows a reviewer
    accepted as the publisher's own ({column: value, ..., reason: why} maps in the .yml). Each
    failing row carries its neighbours, file and line, so the failure reads on its own. -#}
{% test plausible_change(
    model,
    column_name,
    order_by,
    partition_by=[],
    max_factor=10,
    compare='previous',
    accepted=[]
) %}
{%- set window -%}
    {% if partition_by %}partition by {{ partition_by | join(', ') }}{% endif %} order by {{ order_by }}
{%- endset -%}
with series as (
    select
        {% for column in partition_by %}{{ column }}, {% endfor %}
        {{ order_by }},
        lag({{ column_name }}) over ({{ window }}) as previous_value,
        {{ column_name }},
        lead({{ column_name }}) over ({{ window }}) as next_value,
        file_name,
        line_number
    from {{ model }}
    where {{ column_name }} is not null
),

implausible as (
    select *
    from series
    {% if compare == 'previous' %}
    where previous_value is not null and {{ off_by_factor(column_name, 'previous_value', max_factor) }}
    {% elif compare == 'neighbours' %}
    where (previous_value is not null or next_value is not null)
      and (previous_value is null or {{ off_by_factor(column_name, 'previous_value', max_factor) }})
      and (next_value is null or {{ off_by_factor(column_name, 'next_value', max_factor) }})
    {% else %}
    where {{ exceptions.raise_compiler_error("plausible_change: compare must be 'previous' or 'neighbours', not " ~ compare) }}
    {% endif %}
)

select *
from implausible
{% for row in accepted %}
{{ 'where' if loop.first else 'and' }} not (
    {%- for column, value in row.items() if column != 'reason' %}
    {{ column }} = {{ "'" ~ value ~ "'" if value is string else value }}{{ ' and' if not loop.last }}
    {%- endfor %}
)
{% endfor %}
{% endtest %}
