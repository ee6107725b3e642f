select
    record_key,
    dataset,
    source_id
from {{ source('silver_legal_persons', 'records') }}
