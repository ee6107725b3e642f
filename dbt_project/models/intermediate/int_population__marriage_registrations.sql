-- One row per marriage registration (civil affairs), with both spouses' person_id.
-- The published silver library does not carry the registration type (结婚/离婚) nor the office's
-- admin code, so: a couple's registrations alternate, the first is a marriage, the next a divorce,
-- the next a remarriage...; the city is the husband's residence city (the wife's if unknown).
with spouses as (
    select
        r.file_hash,
        r.row_number,
        r.observed_at as registered_on,
        max(case when r.role = 'husband' then x.person_id end) as husband_id,
        max(case when r.role = 'wife' then x.person_id end) as wife_id
    from {{ ref('stg_population__person_records') }} as r
    join {{ ref('stg_population__crosswalk') }} as x on x.record_key = r.record_key
    where r.dataset = 'marriage_registration'
    group by r.file_hash, r.row_number, r.observed_at
),

ordered as (
    select
        *,
        row_number() over (
            partition by husband_id, wife_id order by registered_on, file_hash, row_number
        ) as nth_registration
    from spouses
    where registered_on is not null
)

select
    o.file_hash,
    o.row_number,
    o.registered_on,
    case when o.nth_registration % 2 = 1 then 'marriage' else 'divorce' end as registration_type,
    coalesce(nullif(h.city_code, 'unknown'), w.city_code, 'unknown') as city_code
from ordered as o
left join {{ ref('int_population__persons_located') }} as h on h.person_id = o.husband_id
left join {{ ref('int_population__persons_located') }} as w on w.person_id = o.wife_id
