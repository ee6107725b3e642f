-- Which departments know each person: public security (household register), health (birth or
-- death certificate), human resources and social security (insurance enrollment), civil affairs.
select
    x.person_id,
    bool_or(r.dataset = 'household_registration') as known_to_public_security,
    bool_or(r.dataset in ('birth_records', 'death_records')) as known_to_health,
    bool_or(r.dataset = 'social_insurance_enrollment') as known_to_social_insurance,
    bool_or(r.dataset = 'marriage_registration') as known_to_civil_affairs
from {{ ref('stg_population__crosswalk') }} as x
join {{ ref('stg_population__person_records') }} as r on r.record_key = x.record_key
group by x.person_id
