{#- Fails on rows where `column_name` is set although `input_column` is NULL, i.e. a derived value
    without its inputs (e.g. an MXN amount with no exchange rate). -#}
{% test null_when_input_null(model, column_name, input_column) %}
select *
from {{ model }}
where {{ input_column }} is null and {{ column_name }} is not null
{% endtest %}
