-- Every gate's validations, without the examples of failed rows (they may hold personal data).
select
    run_id,
    `table` as table_id,
    delta_version,
    suite,
    passed,
    validated_at,
    duration_seconds,
    row_count,
    scope,
    since_version,
    evaluated,
    failed as failed_expectations,
    coalesce(size(warned_expectations), 0) as warned_expectations,
    coalesce(aggregate(map_values(dropped), 0L, (acc, x) -> acc + x), 0L) as rows_dropped
from {{ source_or_empty('quality', 'validations', [
    ['run_id', 'string'], ['table', 'string'], ['delta_version', 'bigint'], ['suite', 'string'],
    ['passed', 'boolean'], ['validated_at', 'timestamp'], ['duration_seconds', 'double'],
    ['row_count', 'bigint'], ['scope', 'string'], ['since_version', 'bigint'],
    ['evaluated', 'int'], ['failed', 'int'],
    ['warned_expectations', 'array<string>'], ['dropped', 'map<string,bigint>']]) }} as validations
