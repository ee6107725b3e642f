-- Current golden records, only what aggregates need (no ID number, name, address or phone).
select
    person_id,
    case when sex in ('1', '2', '9') then sex else '0' end as sex,
    birth_date,
    death_date,
    admin_code
from {{ source('silver_population', 'persons') }}
where is_current
