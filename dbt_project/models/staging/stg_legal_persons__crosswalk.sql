select
    record_key,
    legal_person_id
from {{ source('silver_legal_persons', 'crosswalk') }}
