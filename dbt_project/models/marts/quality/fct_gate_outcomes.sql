{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key=['run_id'],
) }}
-- Every quality gate's validation over time: which table version, which suite, passed or not,
-- how many expectations failed or warned, how many rows the build dropped, and how long it took.
with cells as (
    select
        run_id,
        cast(validated_at as date) as validated_on,
        validated_at,
        table_id,
        split(table_id, '[.]')[0] as zone,
        delta_version,
        suite,
        passed,
        evaluated,
        failed_expectations,
        warned_expectations,
        rows_dropped,
        row_count,
        duration_seconds
    from {{ ref('stg_quality__validations') }}
)

{{ merge_changes('cells', ['run_id'],
                 ['validated_on', 'validated_at', 'table_id', 'zone', 'delta_version', 'suite', 'passed',
                  'evaluated', 'failed_expectations', 'warned_expectations', 'rows_dropped', 'row_count',
                  'duration_seconds'], zero_missing=false) }}
