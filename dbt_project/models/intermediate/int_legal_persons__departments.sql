-- Which departments know each legal person: market regulation (the enterprise register), tax (the
-- taxpayer registry), social insurance (as an employer).
select
    x.legal_person_id,
    bool_or(r.dataset = 'enterprise_registration') as known_to_market_regulation,
    bool_or(r.dataset = 'taxpayer_registry') as known_to_tax,
    bool_or(r.dataset = 'social_insurance_enrollment') as known_to_social_insurance
from {{ ref('stg_legal_persons__crosswalk') }} as x
join {{ ref('stg_legal_persons__records') }} as r on r.record_key = x.record_key
group by x.legal_person_id
