{{ config(severity='warn') }}
-- A Banxico name that matches several municipalities of its state gets no key (it is reported
-- unmatched with its USD in fct_municipal_remittances_unallocated); this warning asks for a
-- reviewed exception in seeds/reference/banxico_municipality_name_exceptions.csv.
select file_name, line_number, state_name_published, municipality_name_published, candidate_cve_mun
from {{ ref('int_banxico_municipalities_matched_to_cve_mun') }}
where match_status = 'ambiguous'
