-- Current golden records of legal persons: where, which industry, which status, since when.
select
    legal_person_id,
    admin_code,
    industry_code,
    case when industry_code rlike '^[A-T][0-9]{2,4}$' then substr(industry_code, 1, 1) else 'unknown' end
        as industry_section,
    status,
    established_on
from {{ source('silver_legal_persons', 'legal_persons') }}
where is_current
