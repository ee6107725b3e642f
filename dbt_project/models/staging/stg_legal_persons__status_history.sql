-- Every golden version's status and when the lake first held it (SCD2 valid_from): the extracts
-- carry no date of revocation or deregistration, so the lake's first sight of it is the event date.
select
    legal_person_id,
    status,
    valid_from
from {{ source('silver_legal_persons', 'legal_persons') }}
