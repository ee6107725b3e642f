-- Person mentions: which dataset named whom, when, where (no identifying columns).
select
    record_key,
    dataset,
    role,
    source_id,
    file_hash,
    row_number,
    observed_at,
    admin_code
from {{ source('silver_population', 'person_records') }}
