-- The 2000-degree rows of fct_depopulation_by_intensity are fct_depopulation_by_degree (the
-- paper's grouping): the same municipalities and depopulating counts for every period.
with by_intensity as (
    select period, intensity_degree, municipalities, depopulating_municipalities
    from {{ ref('fct_depopulation_by_intensity') }}
    where index_year = 2000
),

by_degree as (
    select
        period,
        intensity_degree_2000 as intensity_degree,
        municipalities,
        depopulating_municipalities
    from {{ ref('fct_depopulation_by_degree') }}
)

select *
from by_intensity
full outer join by_degree using (period, intensity_degree)
where by_intensity.municipalities is distinct from by_degree.municipalities
    or by_intensity.depopulating_municipalities is distinct from by_degree.depopulating_municipalities
