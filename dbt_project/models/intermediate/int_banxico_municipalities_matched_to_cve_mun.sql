-- The reviewed crosswalk from Banxico's municipality names to INEGI keys, one row per line of
-- the municipal file below a state (named municipalities and 'No identificado').
--   states: Banxico's name -> cve_ent by the name rule against inegi_states, or a reviewed
--           exception (seed banxico_state_name_exceptions);
--   municipalities: a reviewed exception (seed banxico_municipality_name_exceptions) wins; else
--           the name rule (macro normalize_name) against the municipalities of the latest census
--           in the same state: exactly one candidate is a match, several are 'ambiguous' (never
--           guessed), none is 'unmatched'. Both are kept, with the line they come from.
with lines as (
    select distinct
        row_kind,
        state_name_published,
        municipality_name_published,
        file_name,
        line_number
    from {{ ref('stg_banxico__municipal_remittances') }}
    where row_kind in ('municipality', 'unidentified')
),

inegi_states as (
    select cve_ent, state_name from {{ ref('inegi_states') }}
),

state_exceptions as (
    select state_name_published, cve_ent from {{ ref('banxico_state_name_exceptions') }}
),

municipal_exceptions as (
    select cve_ent, municipality_name_published, cve_mun, reason
    from {{ ref('banxico_municipality_name_exceptions') }}
),

latest_census_municipalities as (
    select cve_ent, cve_mun, area_name as municipality_name
    from {{ ref('stg_inegi__census_populations') }}
    where row_level = 'municipality'
        and census_year = (
            select max(census_year)
            from {{ ref('stg_inegi__census_populations') }}
            where row_level = 'municipality'
        )
),

states_matched as (
    select
        lines.*,
        coalesce(state_exceptions.cve_ent, inegi_states.cve_ent) as cve_ent
    from lines
    left join state_exceptions using (state_name_published)
    left join inegi_states
        on {{ normalize_name('inegi_states.state_name') }}
            = {{ normalize_name('lines.state_name_published') }}
),

rule_candidates as (
    select
        states_matched.file_name,
        states_matched.line_number,
        count(census.cve_mun) as candidates,
        min(census.cve_mun) as only_candidate,
        string_agg(census.cve_mun, ', ' order by census.cve_mun) as candidate_keys
    from states_matched
    left join latest_census_municipalities as census
        on census.cve_ent = states_matched.cve_ent
        and {{ normalize_name('census.municipality_name') }}
            = {{ normalize_name('states_matched.municipality_name_published') }}
    where states_matched.row_kind = 'municipality'
    group by states_matched.file_name, states_matched.line_number
),

final as (
    select
        states_matched.cve_ent,
        states_matched.state_name_published,
        states_matched.municipality_name_published,
        states_matched.row_kind,
        case
            when states_matched.row_kind = 'unidentified' then null
            when municipal_exceptions.municipality_name_published is not null
                then municipal_exceptions.cve_mun
            when rule_candidates.candidates = 1 then rule_candidates.only_candidate
        end as cve_mun,
        case
            when states_matched.row_kind = 'unidentified' then 'unidentified'
            when municipal_exceptions.municipality_name_published is not null
                then case when municipal_exceptions.cve_mun is null then 'unmatched' else 'exception' end
            when rule_candidates.candidates = 1 then 'name_rule'
            when rule_candidates.candidates > 1 then 'ambiguous'
            else 'unmatched'
        end as match_status,
        case
            when states_matched.row_kind = 'unidentified'
                then 'No identificado: income Banxico could not place in a municipality of the state'
            when municipal_exceptions.municipality_name_published is not null
                then municipal_exceptions.reason
            when rule_candidates.candidates = 1 then 'same name as in the latest census'
            when rule_candidates.candidates > 1
                then 'name matches ' || rule_candidates.candidates || ' municipalities of the state ('
                    || rule_candidates.candidate_keys || '): add a reviewed exception'
            else 'no municipality of the state has this name in the latest census: add a reviewed exception'
        end as match_reason,
        case when rule_candidates.candidates > 1 then rule_candidates.candidate_keys end
            as candidate_cve_mun,
        states_matched.file_name,
        states_matched.line_number
    from states_matched
    left join municipal_exceptions
        on municipal_exceptions.cve_ent = states_matched.cve_ent
        and municipal_exceptions.municipality_name_published = states_matched.municipality_name_published
    left join rule_candidates using (file_name, line_number)
)

select * from final
