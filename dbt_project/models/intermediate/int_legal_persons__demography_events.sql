-- Enterprise demography events: registered (the establishment date), revoked (吊销) and
-- deregistered (注销), each dated by the month the lake first held that status (the extracts carry
-- no date for them), and cancelled (撤销) likewise.
with first_seen as (
    select legal_person_id, status, min(valid_from) as first_seen_at
    from {{ ref('stg_legal_persons__status_history') }}
    where status in ('revoked', 'deregistered', 'cancelled')
    group by legal_person_id, status
)

select legal_person_id, 'registered' as event, established_on as event_date, city_code, industry_section
from {{ ref('int_legal_persons__located') }}
where established_on is not null
union all
select
    l.legal_person_id,
    f.status as event,
    cast(f.first_seen_at as date) as event_date,
    l.city_code,
    l.industry_section
from first_seen as f
join {{ ref('int_legal_persons__located') }} as l on l.legal_person_id = f.legal_person_id
