"""Per-row standardization rules: pure functions from Column(s) to Column, built from Spark SQL built-ins.

Modules by concern:

``text``            full-width folding, whitespace, traditional -> simplified, person / enterprise names
``identity``        citizen ID numbers (GB 11643) and the stated-vs-derived birth date / sex cross-checks
``legal_identity``  USCC (GB 32100), organization codes (GB 11714), 15-digit registration numbers (GS15)
``dates``           multi-pattern date parsing with impossible-date and plausibility checks
``phones``          mainland mobile numbers (11 digits), landlines flagged
``coordinates``     GCJ-02 -> WGS84 (iterative inverse), CRS dispatch
``grid``            H3 cell per point (vectorized pandas UDF over the ``h3`` package)

Rules that can fail return a struct with the standardized value, ``is_valid`` (where it applies) and
``invalid_reason``, one of the codes in :mod:`jobs.silver.rules.reasons`; the raw value is never
overwritten, so callers keep both.
"""
