{#- Fails on every group whose column total differs from `total` by more than `tolerance`
    (e.g. shares that must add up to 100 within rounding). -#}
{% test sums_to(model, column_name, total, group_by=[], tolerance=0.000001) %}
select
    {% for col in group_by %}{{ col }}, {% endfor %}
    sum({{ column_name }}) as column_total
from {{ model }}
{% if group_by %}group by {{ group_by | join(', ') }}{% endif %}
having abs(sum({{ column_name }}) - {{ total }}) > {{ tolerance }}
{% endtest %}
