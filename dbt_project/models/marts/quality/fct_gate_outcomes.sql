{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key=['run_id'],
    on_schema_change='append_new_columns',
) }}
-- Every quality gate's validation over time: which table version, which suite, passed or not,
-- how many rows it validated and which (the whole table, or the files appended since the published
-- version: bronze and person_records gates, jobs/quality/appended_slice.py), how
-- many expectations failed or warned, how many rows the build dropped, and how long it took.
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
        scope,
        since_version,
        duration_seconds
    from {{ ref('stg_quality__validations') }}
)

{{ merge_changes('cells', ['run_id'],
                 ['validated_on', 'validated_at', 'table_id', 'zone', 'delta_version', 'suite', 'passed',
                  'evaluated', 'failed_expectations', 'warned_expectations', 'rows_dropped', 'row_count',
                  'scope', 'since_version', 'duration_seconds'], zero_missing=false) }}
