-- Current golden legal persons with their city and GB/T 4754 section.
select
    l.legal_person_id,
    l.industry_section,
    l.status,
    l.established_on,
    coalesce(a.city_code, 'unknown') as city_code
from {{ ref('stg_legal_persons__legal_persons') }} as l
left join {{ ref('int_admin_areas') }} as a on l.admin_code = a.admin_code
