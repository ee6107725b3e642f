-- The scorecard's figures, run by run (absent on a lake that was never scored: no rows).
select * from {{ source_or_empty('quality_scorecard', 'history', [
    ['run_id', 'string'], ['computed_at', 'timestamp'], ['prefecture', 'string'],
    ['department', 'string'], ['indicator', 'string'], ['numerator', 'double'],
    ['denominator', 'double'], ['value', 'double']]) }} as history
