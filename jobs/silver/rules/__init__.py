"""Per-row standardization rules: pure functions from Column(s) to Column, built from Spark SQL built-ins.

Modules by concern:

``text``            full-width folding, whitespace, traditional -> simplified, person / enterprise names
``identity``        citizen ID numbers (GB 11643) and the stated-vs-derived birth date / sex cross-checks
``legal_identity``  USCC (GB 32100), organization codes (GB 11714), 15-digit registration numbers (GS15)
``admin_codes``     GB/T 2260 codes as sent -> current code (successor of an abolished one)
``dates``           multi-pattern date parsing with impossible-date and plausibility checks
``phones``          mainland mobile numbers (11 digits), landlines flagged
``coordinates``     GCJ-02 -> WGS84 (iterative inverse), CRS dispatch
``grid``            H3 cell per point (vectorized pandas UDF over the ``h3`` package)

Rules that can fail return a struct with the standardized value, ``is_valid`` (where it applies) and
``invalid_reason``, one of the codes in :mod:`jobs.silver.rules.reasons`; the raw value is never
overwritten, so callers keep both.

Measured cost (issue 5): 200 k - 1 M synthetic rows, 2 partitions, CPU time of the JVM and its Python
workers above a plain projection, on the project's 2-core machine while other sessions kept its load
average at 13-18 (so wall times were 3-4x the CPU times). Rows per CPU-second, approximately:

============================  ==========  =================================================
rule                          rows/cpu-s  note
============================  ==========  =================================================
text.to_simplified            1.8 M       one ``translate``
admin_codes.admin_code        1.3 M       two hash-set ``IN`` lists, a literal map; 2 M rows
text.normalize_person_name    165 k       translate + 3 regexes, bound with ``let``
phones.phone                  140 k
gcj02_to_wgs84, 1 step        115 k       ``aggregate`` over the iterations
gcj02_to_wgs84, 3 steps       47 k        the default
identity.citizen_id           60 k
legal_identity.uscc           60 k
dates.parse_date              55 k        5 patterns; a failed pattern costs an exception
grid.h3_cell                  420 k       pandas UDF: JVM + Python worker CPU
============================  ==========  =================================================

Why ``let`` (a one-element ``transform``) rather than plain nested Column expressions: a value used n
times is copied n times into the expression tree. Written that way the citizen-ID rule produced a
multi-MB plan and generated code past the JVM's 64 KB method limit (whole-stage codegen disabled,
~14 k rows/s), and two unrolled GCJ-02 iterations hit the same limit. ``let`` keeps plans linear at
the price of interpreted evaluation inside the lambda; staging the same rule through intermediate
DataFrame columns measured only ~1.5x faster, not worth losing Column-in / Column-out rules.
"""
