select
    record_key,
    person_id,
    match_method
from {{ source('silver_population', 'crosswalk') }}
