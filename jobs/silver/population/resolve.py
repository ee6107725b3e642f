"""Person entity resolution: every standardized person record -> one ``person_id`` (the crosswalk).

Two passes, because the two kinds of evidence deserve different trust:

1. **Deterministic** — a record with a valid citizen ID belongs to the person that ID names. Its
   ``person_id`` is ``"P"`` + the first 16 hex digits of SHA-256(salt | "id" | ID): stable across
   runs and sources, never the ID itself (the ID is core-classified; the surrogate can travel to
   marts and shares). The salt comes from ``GOVLAKE_PERSON_ID_SALT`` (a secret in production:
   IDs are enumerable, so an unsalted hash is reversible by brute force) and must never change
   once person_ids are published, since it renumbers everyone.
2. **Probabilistic** (Splink) — records *without* a valid ID are scored against the ID-bearing
   records and against each other on name, birth date, sex, district, address and phone. Pairs of
   two ID-bearing records are never scored: their IDs already decided. Each pair above the
   threshold is an edge; ID-bearing records are collapsed to one node per person, so an ID-less
   record joins a *person*, not a record. Connected components of that graph are the clusters; a
   component that would join two different IDs (an ID-less record looking like both of two
   namesakes) is split greedily, strongest edges first, never joining two IDs. An ID-less record
   whose cluster holds an ID gets that person's id; otherwise its cluster (or itself alone) gets a
   new id from the smallest member record_key — stable across re-runs of the same input, and stable
   when later members join with larger keys.

Incremental runs (``existing``: the previous crosswalk, ``model``: the previous model) settle what
is already known: an already-resolved record keeps its row, and is only a target new records can
join, unless a new record meets an ID-less record of its person in some blocking rule; then that
person's ID-less records are re-resolved with the new ones (the new record may be the evidence
that joins them to an ID, as a full run would find). Only pairs with an unsettled record are
scored, the model is not retrained, and the result names the persons whose crosswalk rows changed,
so the golden records of only those are recomputed. Measured on ``synthetic.resolution`` records, the
later batch against a full run over all records (this shared 2-core machine, seconds rough):

    records   later batch   pairs compared   persons touched   seconds   precision / recall
      900        20%          319 vs 435        203 of 424      6 vs 2    0.999 / 0.973 vs 1.0 / 0.973
     21k          5%        3,054 vs 13,168   1,145 of 9,183   10 vs 10   0.993 / 0.988 vs 0.993 / 0.988

The saving is in pairs, training (~5 s) and golden records, not yet in wall time: settling costs a
Spark join per blocking rule, about what training saves.

Model training is cheap and deterministic: u-probabilities by Splink's hash-based random sampling
with a fixed seed; m-probabilities from the ID-bearing records themselves (records sharing an ID
are known matches: Splink's ``estimate_m_from_label_column``), blended with fixed priors so that a
level the labels never show (ID-bearing records rarely carry birth-date typos: standardization
fills the date from the ID) keeps a plausible weight; EM on two blocking rules only when there are
too few ID-labelled pairs. The prior match probability is measured on the ID-bearing records.

Backends. ``duckdb`` (the default) collects the prepared records to Arrow, links them in an
in-process DuckDB, and hands the result back to Spark; ``spark`` runs Splink's Spark backend on
the given session (for the cluster, where the records do not fit one machine). Measured in one
run of ``python -m bench.resolution 20000 100000`` on this 2-core machine
(shared with other jobs, so seconds are rough; the ratio is the point), same cached records for
both backends, end to end including Spark <-> Arrow:

    records   duckdb    spark    spark/duckdb   pairs compared   precision / recall
     21k      28.6 s   150.4 s       5.3x           13,168        0.993 / 0.988
    105k      26.3 s   141.7 s       5.4x          144,278        0.993 / 0.982

(DuckDB's time is mostly u sampling, fixed at 2M pairs, and Spark <-> Arrow; blocking, scoring
and clustering 105k records take ~3 s.) DuckDB is the embedded default: Splink's Spark backend
runs each of its dozens of SQL steps as Spark jobs with parquet checkpoints, and the
connected-components loop adds a few per iteration, so scheduling dominates on a few cores,
while DuckDB runs the same SQL vectorized in-process. The Spark backend stays selectable
(``backend="spark"``) for a real cluster, where the records no longer fit one machine. On small
inputs both backends give the identical crosswalk (u from all pairs); on large ones the seeded u
sample differs by backend (different hash functions), so a few borderline records may differ.

Only built-in SQL functions are used (levenshtein, substr, equality), so both backends score with
the same comparisons and Splink's Scala UDF jar is not needed on the Spark classpath.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from splink.internals.database_api import DatabaseAPI
    from splink.internals.splink_dataframe import SplinkDataFrame

log = logging.getLogger(__name__)

BACKENDS = ("duckdb", "spark")
DEFAULT_BACKEND = "duckdb"
#: Pairs at or above this match probability are links. Chosen on the synthetic fixture for
#: precision >= 0.99 with recall >= 0.97 (tests/silver/population/test_resolve.py; 0.95 let
#: same-district namesakes through, 0.99 dropped name + birth date + sex alone). The probability
#: already carries the prior, which shrinks as the record count grows, so one threshold holds
#: across sizes (checked at 20k and 100k records by ``bench.resolution``).
DEFAULT_THRESHOLD = 0.98
DEFAULT_SEED = 20240501
DEFAULT_SALT = "govlake.person.v1"
SALT_ENV = "GOVLAKE_PERSON_ID_SALT"

METHOD_ID = "id_number"
METHOD_PROBABILISTIC = "probabilistic"
METHOD_SINGLETON = "singleton"
MATCH_METHODS = (METHOD_ID, METHOD_PROBABILISTIC, METHOD_SINGLETON)

#: Below this many ID-labelled pairs, m-probabilities come from EM instead of the labels.
MIN_LABEL_PAIRS = 50
#: Weight of the fixed prior in the m-probabilities learnt from labels (smoothing, see docstring).
PRIOR_WEIGHT = 0.2
#: Pairs sampled for u estimation (Splink recommends far more for production; cheap by design).
U_MAX_PAIRS = 2e6

REQUIRED_COLUMNS = (
    "record_key",
    "source_id",
    "id_number",
    "name",
    "birth_date",
    "sex",
    "admin_code",
    "address",
    "phone",
)
UNKNOWN_SEX = ("0", "9", "未知", "未说明", "未知的性别", "未说明的性别")
CROSSWALK_DDL = (
    "record_key string, source_id string, person_id string, match_method string, match_probability double"
)

#: At least one side has no valid ID: two ID-bearing records were settled by their IDs.
_ONE_SIDE_WITHOUT_ID = "(l.id_person_id is null or r.id_person_id is null)"
#: Blocking rules for prediction (OR-ed by Splink; each pair scored once). Numbered from 1, they
#: tolerate one fault at a time: a given-name typo (3, 4, 5, 7), a surname typo (3, 4, 6), a missing
#: or mistyped birth date (2, 4, 7), a missing or stale district (1, 4, 5, 6). ``address_house`` is
#: the address up to the house number (号), so a full and a truncated address still meet.
BLOCKING_RULES: tuple[str, ...] = (
    "l.name = r.name and l.birth_date = r.birth_date",
    "l.name = r.name and l.admin_code = r.admin_code",
    "l.birth_date = r.birth_date and l.admin_code = r.admin_code",
    "l.phone = r.phone",
    "l.birth_date = r.birth_date and l.surname = r.surname",
    "l.birth_date = r.birth_date and l.given_name = r.given_name",
    "l.address_house = r.address_house and l.surname = r.surname",
)
#: EM fallback: each rule leaves the other fields free to be estimated.
EM_BLOCKING_RULES: tuple[str, ...] = (
    "l.name = r.name and l.birth_date = r.birth_date",
    "l.admin_code = r.admin_code and l.phone = r.phone",
)


@dataclass(frozen=True)
class ResolutionResult:
    """The crosswalk and what it took to make it."""

    #: record_key, source_id, person_id, match_method, match_probability — each input record once.
    crosswalk: DataFrame
    backend: str
    threshold: float
    #: Candidate pairs Splink scored after blocking (pairs of two ID-bearing records excluded).
    pairs_compared: int
    records_by_method: dict[str, int]
    #: Clusters that would have joined two IDs and were split (see module docstring).
    conflicts_split: int
    seconds: float
    #: Seconds per stage: prepare, to_backend, train, block_and_score, cluster, from_backend, assemble.
    timings: dict[str, float]
    #: How m was trained: "labels" (ID-sharing records), "em", or "none" (no records).
    m_training: str
    #: The trained Splink model (settings dict with m/u), to audit or to re-score without training.
    model: dict[str, Any] = field(repr=False)
    #: Incremental runs only: the person_ids whose records changed (new records joined them, or
    #: records of theirs are gone). None after a full resolution: every person may have changed.
    touched_person_ids: DataFrame | None = field(default=None, repr=False)


def person_id_salt(salt: str | None = None) -> str:
    """The salt for person_id hashes: the argument, else ``GOVLAKE_PERSON_ID_SALT``, else a fixed default."""
    return salt if salt is not None else os.environ.get(SALT_ENV, DEFAULT_SALT)


def _hash_id(kind: str, value: Any, salt: str) -> Any:
    """``P`` + 16 hex digits of SHA-256(salt|kind|value), as a Spark column."""
    from pyspark.sql import functions as F

    digest = F.sha2(F.concat_ws("|", F.lit(salt), F.lit(kind), value), 256)
    return F.concat(F.lit("P"), F.substring(digest, 1, 16))


def _prepare(records: DataFrame, salt: str) -> DataFrame:
    """The columns linkage uses, blanks as NULL (two blanks must not 'match'), IDs replaced by hashes."""
    from pyspark.sql import functions as F

    missing = [c for c in REQUIRED_COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"records lack column(s) {missing}; need {list(REQUIRED_COLUMNS)}")

    def text(name: str) -> Any:
        c = F.trim(F.col(name).cast("string"))
        return F.when(c != "", c)

    idn = F.upper(text("id_number"))
    valid = idn.rlike(r"^\d{17}[\dX]$")
    admin = text("admin_code")
    name = text("name")
    address = text("address")
    # The ID states the birth date: fill it where the record lacks one (upstream may already have).
    birth = F.coalesce(
        F.col("birth_date").cast("date"), F.when(valid, F.try_to_date(F.substring(idn, 7, 8), "yyyyMMdd"))
    )
    house = F.regexp_extract(address, r"^(.*?号)", 1)
    phone = F.regexp_replace(text("phone"), r"\D", "")
    sex = text("sex")
    return records.select(
        F.col("record_key").cast("string").alias("unique_id"),
        F.col("source_id").cast("string").alias("source_id"),
        F.when(valid, _hash_id("id", idn, salt)).alias("id_person_id"),
        name.alias("name"),
        F.substring(name, 1, 1).alias("surname"),
        F.when(F.length(name) > 1, F.substring(name, 2, 64)).alias("given_name"),
        F.date_format(birth, "yyyy-MM-dd").alias("birth_date"),
        # GB/T 2261.1 "0" unknown / "9" unstated say nothing: two of them must not agree.
        F.when(~sex.isin(*UNKNOWN_SEX), sex).alias("sex"),
        admin.alias("admin_code"),
        F.substring(admin, 1, 4).alias("prefecture"),
        address.alias("address"),
        F.when(house != "", house).alias("address_house"),
        F.when(phone != "", phone).alias("phone"),
    )


# --- the Splink model ---------------------------------------------------------------------------


#: m priors per comparison (non-null levels, in order): what fraction of true matches land in each
#: level. Rough figures from how departments' extracts disagree; used alone when nothing is learnt.
PRIOR_M: dict[str, list[float]] = {
    "name": [0.88, 0.04, 0.06, 0.02],
    "birth_date": [0.93, 0.04, 0.01, 0.02],
    "sex": [0.98, 0.02],
    "residence": [0.55, 0.12, 0.05, 0.12, 0.02, 0.04, 0.10],
    "phone": [0.6, 0.02, 0.38],
}


def _comparisons() -> list[Any]:
    """Comparisons with fixed m priors (used as-is when nothing better is learnt, else blended)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return [
        # Chinese names are 2-4 characters: one character off is the typical typo (伟/玮).
        # Term frequencies: 张伟 agreeing says far less than 欧阳靖雯 agreeing.
        cl.CustomComparison(
            output_column_name="name",
            comparison_description="exact (term-frequency adjusted), one character off, else",
            comparison_levels=[
                cll.NullLevel("name"),
                cll.ExactMatchLevel("name", term_frequency_adjustments=True),
                # In a 3-character name one character off still leaves two agreeing; in a
                # 2-character name it leaves the surname alone, which 7% of people share.
                cll.CustomLevel(
                    "levenshtein(name_l, name_r) <= 1 and length(name_l) >= 3 and length(name_r) >= 3",
                    "one character off, 3+ characters",
                ),
                cll.LevenshteinLevel("name", 1),
                cll.ElseLevel(),
            ],
        ).configure(m_probabilities=PRIOR_M["name"]),
        # On the ISO string: distance 1 is a one-digit typo, 2 a swapped day/month or two slips.
        cl.LevenshteinAtThresholds("birth_date", [1, 2]).configure(m_probabilities=PRIOR_M["birth_date"]),
        cl.ExactMatch("sex").configure(m_probabilities=PRIOR_M["sex"]),
        # District and address as one comparison, because they are not independent: the same
        # district with a *different* address is evidence against (a namesake down the road), the
        # same district with no address to compare is evidence for; naive Bayes over two separate
        # comparisons would count the district agreement either way.
        cl.CustomComparison(
            output_column_name="residence",
            comparison_description="address, else district (address differs / unknown), else prefecture",
            comparison_levels=[
                cll.CustomLevel(
                    "(admin_code_l is null and address_l is null)"
                    " or (admin_code_r is null and address_r is null)",
                    "no residence on one side",
                ).configure(is_null_level=True),
                cll.ExactMatchLevel("address"),
                cll.LevenshteinLevel("address", 3),
                cll.CustomLevel(
                    "levenshtein(address_house_l, address_house_r) <= 1", "same house number, typo at most"
                ),
                cll.CustomLevel(
                    "admin_code_l = admin_code_r and (address_l is null or address_r is null)",
                    "same district, an address missing",
                ),
                cll.CustomLevel("admin_code_l = admin_code_r", "same district, different address"),
                cll.CustomLevel("prefecture_l = prefecture_r", "same prefecture"),
                cll.ElseLevel(),
            ],
        ).configure(m_probabilities=PRIOR_M["residence"]),
        cl.LevenshteinAtThresholds("phone", 1).configure(m_probabilities=PRIOR_M["phone"]),
    ]


def _settings(prior: float) -> Any:
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=_comparisons(),
        blocking_rules_to_generate_predictions=[f"({r}) and {_ONE_SIDE_WITHOUT_ID}" for r in BLOCKING_RULES],
        probability_two_random_records_match=prior,
        additional_columns_to_retain=["id_person_id"],
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
    )


def _scalar(db_api: DatabaseAPI, sql: str) -> Any:
    rows = db_api.query_sql(sql).as_record_list()
    return next(iter(rows[0].values())) if rows else None


def _blend_priors(model: dict[str, Any], priors: dict[str, list[float]], weight: float) -> dict[str, Any]:
    """m := (1 - weight) * learnt + weight * prior, per non-null level (then renormalized)."""
    for comparison in model["comparisons"]:
        prior = priors.get(comparison["output_column_name"])
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        if prior is None or len(prior) != len(levels):
            continue
        learnt = [lv.get("m_probability") for lv in levels]
        learnt = [p if isinstance(p, (int, float)) else 0.0 for p in learnt]
        blended = [(1 - weight) * a + weight * b for a, b in zip(learnt, prior, strict=True)]
        total = sum(blended)
        for lv, m in zip(levels, blended, strict=True):
            lv["m_probability"] = m / total
    return model


def _train(db_api: DatabaseAPI, table: SplinkDataFrame, seed: int) -> tuple[dict[str, Any], str]:
    """Train the model on ``table``; return the settings dict to predict with and how m was learnt."""
    from splink import Linker

    n = int(_scalar(db_api, f"select count(*) as n from {table.physical_name}") or 0)
    label_stats = db_api.query_sql(
        f"""
        select coalesce(sum(c * (c - 1) / 2), 0) as label_pairs, coalesce(sum(c), 0) as n_with_id
        from (select count(*) as c from {table.physical_name}
              where id_person_id is not null group by id_person_id) t
        """
    ).as_record_list()[0]
    label_pairs = int(label_stats["label_pairs"])
    n_with_id = int(label_stats["n_with_id"])
    # P(two random records are one person), measured where the truth is known: the ID-bearing records.
    if label_pairs > 0 and n_with_id > 1:
        prior = label_pairs / (n_with_id * (n_with_id - 1) / 2)
    else:
        prior = 1.0 / max(n, 2)
    prior = min(max(prior, 1e-9), 0.5)

    linker = Linker(table, _settings(prior), log_level=None)
    # u: all pairs when there are few, else a deterministic hash sample (seeded).
    max_pairs = float(min(U_MAX_PAIRS, max(1, n * (n - 1) // 2)))
    # One chunk: Splink's early-stopping probe costs a pass per chunk (a dozen Spark jobs each).
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed, num_chunks=1)
    if label_pairs >= MIN_LABEL_PAIRS:
        linker.training.estimate_m_from_label_column("id_person_id")
        model = _blend_priors(linker.misc.save_model_to_json(), PRIOR_M, PRIOR_WEIGHT)
        how = "labels"
    else:
        for rule in EM_BLOCKING_RULES:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True
            )
        model = linker.misc.save_model_to_json()
        how = "em"
    model["probability_two_random_records_match"] = prior
    return model, how


# --- clustering ----------------------------------------------------------------------------------


def _split_conflicts(edges: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Greedy constrained union-find over one or more conflicting components.

    Edges are taken strongest first (ties by node ids, so the result is deterministic); an edge is
    skipped when it would put two different persons (``p:`` nodes) in one group. Returns
    node -> representative (the smallest node id of its group).
    """
    parent: dict[str, str] = {}
    person: dict[str, str | None] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        person.setdefault(x, x if x.startswith("p:") else None)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    ordered = sorted(edges, key=lambda e: (-float(e["match_probability"]), e["node_l"], e["node_r"]))
    for e in ordered:
        a, b = find(e["node_l"]), find(e["node_r"])
        if a == b:
            continue
        pa, pb = person[a], person[b]
        if pa is not None and pb is not None and pa != pb:
            continue
        keep, drop = (a, b) if a < b else (b, a)
        parent[drop] = keep
        person[keep] = pa or pb
    groups: dict[str, list[str]] = {}
    for node in list(parent):
        groups.setdefault(find(node), []).append(node)
    return {node: min(members) for members in groups.values() for node in members}


def _cluster(db_api: DatabaseAPI, predictions: SplinkDataFrame) -> tuple[SplinkDataFrame, int]:
    """Edges -> per ID-less record: the person it joins or its cluster's anchor, and its best link.

    Runs as SQL in the backend (both dialects: only CASE, concat, substr, min/max), except the
    rare components holding two IDs, which are collected and split in Python.
    """
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    node = (
        "case when id_person_id_{s} is not null then concat('p:', id_person_id_{s}) "
        "else concat('r:', unique_id_{s}) end"
    )
    edges = db_api.query_sql(
        f"""
        select {node.format(s="l")} as node_l, {node.format(s="r")} as node_r,
               cast(match_probability as double) as match_probability
        from {predictions.physical_name}
        """
    )
    nodes = db_api.query_sql(
        f"select node_l as node_id from {edges.physical_name} "
        f"union select node_r as node_id from {edges.physical_name}"
    )
    cc = cluster_pairwise_predictions_at_threshold(
        nodes,
        edges,
        db_api=db_api,
        node_id_column_name="node_id",
        edge_id_column_name_left="node_l",
        edge_id_column_name_right="node_r",
    )
    conflict_clusters = db_api.query_sql(
        f"""
        select cluster_id from {cc.physical_name}
        where substr(node_id, 1, 2) = 'p:'
        group by cluster_id having count(*) > 1
        """
    )
    conflict_edges = db_api.query_sql(
        f"""
        select e.node_l, e.node_r, e.match_probability
        from {edges.physical_name} e
        join {cc.physical_name} c on e.node_l = c.node_id
        join {conflict_clusters.physical_name} k on c.cluster_id = k.cluster_id
        """
    ).as_record_list()
    n_conflicts = int(_scalar(db_api, f"select count(*) as n from {conflict_clusters.physical_name}") or 0)

    final_cc = cc
    if conflict_edges:
        reps = _split_conflicts(conflict_edges)
        overrides = db_api.register(
            {"node_id": list(reps), "split_cluster_id": [f"split:{r}" for r in reps.values()]}
        )
        final_cc = db_api.query_sql(
            f"""
            select c.node_id, coalesce(o.split_cluster_id, c.cluster_id) as cluster_id
            from {cc.physical_name} c left join {overrides.physical_name} o on c.node_id = o.node_id
            """
        )

    assigned = db_api.query_sql(
        f"""
        with per_cluster as (
            select cluster_id,
                   max(case when substr(node_id, 1, 2) = 'p:' then node_id end) as p_node,
                   min(case when substr(node_id, 1, 2) = 'r:' then node_id end) as anchor
            from {final_cc.physical_name} group by cluster_id
        ),
        inside as (
            select e.node_l, e.node_r, e.match_probability
            from {edges.physical_name} e
            join {final_cc.physical_name} a on e.node_l = a.node_id
            join {final_cc.physical_name} b on e.node_r = b.node_id
            where a.cluster_id = b.cluster_id
        ),
        best as (
            select node, max(match_probability) as match_probability from (
                select node_l as node, match_probability from inside
                union all
                select node_r as node, match_probability from inside
            ) t group by node
        )
        select substr(c.node_id, 3) as unique_id,
               substr(k.p_node, 3) as linked_person_id,
               case when k.p_node is null then substr(k.anchor, 3) end as anchor_key,
               b.match_probability
        from {final_cc.physical_name} c
        join per_cluster k on c.cluster_id = k.cluster_id
        left join best b on c.node_id = b.node
        where substr(c.node_id, 1, 2) = 'r:'
        """
    )
    return assigned, n_conflicts


# --- backends -------------------------------------------------------------------------------------


@dataclass
class _LinkOutput:
    assigned: DataFrame  # unique_id, linked_person_id, anchor_key, match_probability (Spark)
    pairs_compared: int
    conflicts: int
    model: dict[str, Any]
    m_training: str
    timings: dict[str, float]


class _Stopwatch:
    """Seconds per named stage, for the result (where the time goes differs a lot by backend)."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(self.timings.get(stage, 0.0) + now - self._last, 3)
        self._last = now


def _link(
    db_api: DatabaseAPI,
    table: SplinkDataFrame,
    threshold: float,
    seed: int,
    clock: _Stopwatch,
    model: dict[str, Any] | None = None,
) -> tuple[SplinkDataFrame, int, int, dict[str, Any], str]:
    """Train (unless a ``model`` is given), block, score and cluster in the backend.

    Returns the rows of ``_LinkOutput.assigned``. A table with a ``settled_person_id`` column is an
    incremental run: training sees the true ID labels, prediction sees every record that stays
    settled with its person_id in ``id_person_id``, so only pairs with an unsettled record are scored.
    """
    from splink import Linker

    if model is None:
        model, how = _train(db_api, table, seed)
    else:
        how = "reused"
    clock.lap("train")
    columns = [c.unquote().name for c in table.columns]
    if "settled_person_id" in columns:
        kept = ", ".join(c for c in columns if c not in ("id_person_id", "settled_person_id"))
        table = db_api.query_sql(
            f"select {kept}, settled_person_id as id_person_id from {table.physical_name}"
        )
    linker = Linker(table, model, log_level=None)
    blocked = linker.inference.compute_blocked_pairs_for_predict()  # cached: predict() reuses it
    pairs = int(_scalar(db_api, f"select count(*) as n from {blocked.physical_name}") or 0)
    predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    clock.lap("block_and_score")
    assigned, conflicts = _cluster(db_api, predictions)
    clock.lap("cluster")
    return assigned, pairs, conflicts, model, how


#: The previous crosswalk's row of an already-resolved record, carried beside it in incremental runs
#: (the backend gets only ``settled_person_id``).
_KNOWN_ROW = ("known_person_id", "known_method", "known_probability", "reopened")
_ASSIGNED_DDL = "unique_id string, linked_person_id string, anchor_key string, match_probability double"


def _link_duckdb(
    spark: SparkSession, prepared: DataFrame, threshold: float, seed: int, model: dict[str, Any] | None
) -> _LinkOutput:
    """Records to Arrow, Splink on an in-process DuckDB, assignments back as a Spark DataFrame."""
    from splink import DuckDBAPI

    clock = _Stopwatch()
    # Sorted, so DuckDB sees the same table whatever Spark's partitioning was.
    arrow = prepared.drop("source_id", *_KNOWN_ROW).toArrow().sort_by("unique_id")
    clock.lap("to_backend")
    db_api = DuckDBAPI(":memory:")
    try:
        table = db_api.register(arrow, table_name="person_records")
        assigned, pairs, conflicts, model, how = _link(db_api, table, threshold, seed, clock, model)
        rows = assigned.as_pyarrow_table()
    finally:
        db_api.duckdb_con.close()
    assigned_df = spark.createDataFrame(
        rows.select(["unique_id", "linked_person_id", "anchor_key", "match_probability"]).to_pandas(),
        _ASSIGNED_DDL,
    )
    clock.lap("from_backend")
    return _LinkOutput(assigned_df, pairs, conflicts, model, how, clock.timings)


def _checkpoint_dir(spark: SparkSession) -> str:
    """The SparkContext's checkpoint dir; on a local master, a temp dir is set if there is none.

    Splink breaks lineage by writing its intermediate tables as parquet there. Caching instead
    ("persist") keeps every plan, and the connected-components loop re-analyses them per
    iteration: minutes and then an OutOfMemoryError on a 1k-record graph here. On a cluster the
    dir must be on shared storage, so it is the job's to set (``sc.setCheckpointDir``).
    """
    sc = spark.sparkContext
    current = sc._jsc.sc().getCheckpointDir()
    if current.isEmpty():
        if not sc.master.startswith("local"):
            raise RuntimeError(
                "backend='spark' needs a checkpoint dir on shared storage: call "
                "spark.sparkContext.setCheckpointDir(...) first"
            )
        sc.setCheckpointDir(os.path.join(tempfile.gettempdir(), "govlake-splink-checkpoints"))
        current = sc._jsc.sc().getCheckpointDir()
    return str(current.get())


def _link_spark(
    spark: SparkSession, prepared: DataFrame, threshold: float, seed: int, model: dict[str, Any] | None
) -> _LinkOutput:
    """Splink's Spark backend on the caller's session (the cluster path)."""
    from splink import SparkAPI

    clock = _Stopwatch()
    checkpoint_dir = _checkpoint_dir(spark)
    files_before, views_before = _splink_files(spark, checkpoint_dir), _splink_views(spark)
    shuffle = int(spark.conf.get("spark.sql.shuffle.partitions", "8"))
    db_api = SparkAPI(
        spark_session=spark,
        break_lineage_method="parquet",
        num_partitions_on_repartition=max(1, shuffle),
        register_udfs_automatically=False,  # built-in functions only: no Scala UDF jar needed
    )
    table = db_api.register(
        prepared.drop("source_id", *_KNOWN_ROW), table_name=f"person_records_{uuid.uuid4().hex[:8]}"
    )
    clock.lap("to_backend")
    try:
        assigned, pairs, conflicts, model, how = _link(db_api, table, threshold, seed, clock, model)
        assigned_df = assigned.as_spark_dataframe().localCheckpoint(eager=True)
    finally:
        _drop_spark_tables(spark, checkpoint_dir, files_before, views_before)
        spark.catalog.dropTempView(table.physical_name)
    clock.lap("from_backend")
    return _LinkOutput(assigned_df, pairs, conflicts, model, how, clock.timings)


def _splink_files(spark: SparkSession, checkpoint_dir: str) -> set[str]:
    """Names of Splink's parquet tables currently in the checkpoint dir."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(checkpoint_dir)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return set()
    names = (status.getPath().getName() for status in fs.listStatus(path))
    return {n for n in names if n.startswith("__splink__")}


def _splink_views(spark: SparkSession) -> set[str]:
    return {t.name for t in spark.catalog.listTables() if t.isTemporary and t.name.startswith("__splink__")}


def _drop_spark_tables(
    spark: SparkSession, checkpoint_dir: str, files_before: set[str], views_before: set[str]
) -> None:
    """Drop the temp views Splink made and delete the parquet files it wrote during this run.

    Splink itself drops only some of them (its Spark tables are views over checkpoint files).
    """
    for name in sorted(_splink_views(spark) - views_before):
        spark.catalog.dropTempView(name)
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    for name in sorted(_splink_files(spark, checkpoint_dir) - files_before):
        path = jvm.org.apache.hadoop.fs.Path(f"{checkpoint_dir.rstrip('/')}/{name}")
        path.getFileSystem(conf).delete(path, True)


# --- entry points ---------------------------------------------------------------------------------


def _settle(prepared: DataFrame) -> DataFrame:
    """Incremental runs: which already-resolved records stay as they are (``settled_person_id``).

    A new record (no ``known_person_id``) is unsettled. So is every ID-less record of an existing
    person that a new record meets in some blocking rule (``reopened``): the new record may be the
    evidence that joins that person to another, as a full run would. Everything else keeps its
    person_id and is only a target new records can join.
    """
    from functools import reduce

    from pyspark.sql import functions as F

    new = prepared.where(F.col("known_person_id").isNull()).alias("l")
    open_to_change = prepared.where(F.col("known_person_id").isNotNull() & F.col("id_person_id").isNull())
    reached = [
        new.join(open_to_change.alias("r"), F.expr(rule)).select(F.col("r.known_person_id"))
        for rule in BLOCKING_RULES
    ]
    reopened = reduce(lambda a, b: a.union(b), reached).distinct().withColumn("reopened", F.lit(True))
    settled = prepared.join(F.broadcast(reopened), "known_person_id", "left").withColumn(
        "reopened", F.coalesce("reopened", F.lit(False))
    )
    return settled.withColumn(
        "settled_person_id",
        F.when(
            F.col("known_person_id").isNotNull() & ~F.col("reopened"),
            F.coalesce("id_person_id", "known_person_id"),
        ).otherwise(F.col("id_person_id")),
    )


def _touched(crosswalk: DataFrame, existing: DataFrame) -> DataFrame:
    """person_ids on either side of a crosswalk row that is new, gone, or moved to another person."""
    from pyspark.sql import functions as F

    old = existing.select("record_key", F.col("person_id").alias("old_person_id"))
    diff = crosswalk.select("record_key", "person_id").join(old, "record_key", "full_outer")
    return (
        diff.where(~F.col("person_id").eqNullSafe(F.col("old_person_id")))
        .select(F.explode(F.array("person_id", "old_person_id")).alias("person_id"))
        .where(F.col("person_id").isNotNull())
        .distinct()
    )


def resolve_persons(
    spark: SparkSession,
    records: DataFrame,
    *,
    backend: str = DEFAULT_BACKEND,
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = DEFAULT_SEED,
    salt: str | None = None,
    existing: DataFrame | None = None,
    model: dict[str, Any] | None = None,
) -> ResolutionResult:
    """Assign every standardized person record a ``person_id`` (see the module docstring).

    ``records`` needs the columns of :data:`REQUIRED_COLUMNS` (others are ignored); ``record_key``
    must be unique. Same input (and salt, seed, threshold) => same crosswalk, whatever the row
    order or partitioning.

    Incremental (``existing``: the previous crosswalk): a record already in it keeps its row unless
    a new record reopens its person (:func:`_settle`); a new record with a valid ID gets its ID's
    person_id; the rest are scored only in pairs with an unsettled record. ``model`` (a previous
    result's) skips training. ``touched_person_ids`` of the result says whose records changed.
    """
    from pyspark.sql import functions as F

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    started = time.perf_counter()
    clock = _Stopwatch()
    salt = person_id_salt(salt)
    prepared = _prepare(records, salt)
    if existing is not None:
        previous = existing.select(
            F.col("record_key").alias("unique_id"),
            F.col("person_id").alias("known_person_id"),
            F.col("match_method").alias("known_method"),
            F.col("match_probability").alias("known_probability"),
        )
        # Materialized once: settling reads it once per blocking rule.
        prepared = _settle(prepared.join(previous, "unique_id", "left").localCheckpoint(eager=True))
    prepared = prepared.cache()
    try:
        counts = prepared.agg(
            F.count("*").alias("n"),
            F.countDistinct("unique_id").alias("keys"),
            F.count(F.col("known_person_id") if existing is not None else F.lit(None)).alias("known"),
            F.count(F.col("settled_person_id" if existing is not None else "id_person_id")).alias("settled"),
        ).first()
        n_records = int(counts["n"])
        if int(counts["keys"]) != n_records:
            raise ValueError(f"record_key is not unique: {n_records} records, {counts['keys']} distinct keys")
        n_new = n_records - int(counts["known"])
        n_unsettled = n_records - int(counts["settled"])
        clock.lap("prepare")
        if n_records == 0:
            return ResolutionResult(
                crosswalk=spark.createDataFrame([], CROSSWALK_DDL),
                backend=backend,
                threshold=threshold,
                pairs_compared=0,
                records_by_method=dict.fromkeys(MATCH_METHODS, 0),
                conflicts_split=0,
                seconds=time.perf_counter() - started,
                timings=clock.timings,
                m_training="none",
                model=model or {},
            )
        if n_unsettled == 0:  # every record is settled by its ID or its previous row: no pair to score
            link = _LinkOutput(spark.createDataFrame([], _ASSIGNED_DDL), 0, 0, model or {}, "none", {})
        else:
            link = (_link_duckdb if backend == "duckdb" else _link_spark)(
                spark, prepared, threshold, seed, model
            )
        clock._last = time.perf_counter()

        a = link.assigned.alias("a")
        p = prepared.alias("p")
        resolved = {
            "person_id": F.coalesce(
                F.col("p.id_person_id"),
                F.col("a.linked_person_id"),
                _hash_id("cluster", F.coalesce(F.col("a.anchor_key"), F.col("p.unique_id")), salt),
            ),
            "match_method": F.when(F.col("p.id_person_id").isNotNull(), F.lit(METHOD_ID))
            .when(F.col("a.match_probability").isNotNull(), F.lit(METHOD_PROBABILISTIC))
            .otherwise(F.lit(METHOD_SINGLETON)),
            "match_probability": F.when(F.col("p.id_person_id").isNotNull(), F.lit(1.0))
            .otherwise(F.col("a.match_probability"))
            .cast("double"),
        }
        if existing is not None:  # settled records keep the previous crosswalk's row
            kept = F.col("p.known_person_id").isNotNull() & ~F.col("p.reopened")
            resolved = {
                name: F.when(kept, F.col(f"p.known_{name.removeprefix('match_')}")).otherwise(value)
                for name, value in resolved.items()
            }
        crosswalk = (
            p.join(a, F.col("p.unique_id") == F.col("a.unique_id"), "left")
            .select(
                F.col("p.unique_id").alias("record_key"),
                F.col("p.source_id").alias("source_id"),
                *[value.alias(name) for name, value in resolved.items()],
            )
            .localCheckpoint(eager=True)
        )
        by_method = {m: 0 for m in MATCH_METHODS}
        for row in crosswalk.groupBy("match_method").count().collect():
            by_method[row["match_method"]] = int(row["count"])
        touched = _touched(crosswalk, existing).localCheckpoint(eager=True) if existing is not None else None
        clock.lap("assemble")
    finally:
        prepared.unpersist()
    seconds = time.perf_counter() - started
    log.info(
        "resolved %d records (%d new) with %s in %.1fs: %s, %d pairs compared, %d conflicts split",
        n_records,
        n_new,
        backend,
        seconds,
        by_method,
        link.pairs_compared,
        link.conflicts,
    )
    return ResolutionResult(
        crosswalk=crosswalk,
        backend=backend,
        threshold=threshold,
        pairs_compared=link.pairs_compared,
        records_by_method=by_method,
        conflicts_split=link.conflicts,
        seconds=seconds,
        timings={**clock.timings, **link.timings},
        m_training=link.m_training,
        model=link.model,
        touched_person_ids=touched,
    )


def _pairs(n: Any) -> Any:
    return n * (n - 1) / 2


def match_quality(crosswalk: DataFrame | ResolutionResult, truth: DataFrame) -> dict[str, Any]:
    """Pairwise precision / recall of a crosswalk against ``truth`` (record_key, true_person_id).

    Counts pairs of records put together (by person_id), truly together (by true_person_id) and
    both, from group sizes (no pair explosion). Records missing from either side are ignored.
    Passing the :class:`ResolutionResult` also reports its pairs compared and records per method.
    Also reported on the pairs that involve at least one record not settled by its ID, where the
    probabilistic pass is what is measured (ID-settled pairs are correct by construction).
    """
    from pyspark.sql import functions as F

    result = crosswalk if isinstance(crosswalk, ResolutionResult) else None
    cw = result.crosswalk if result is not None else crosswalk
    joined = cw.select("record_key", "person_id", "match_method").join(
        truth.select("record_key", "true_person_id"), "record_key"
    )

    def pair_counts(df: DataFrame) -> tuple[float, float, float]:
        pred = df.groupBy("person_id").count().agg(F.sum(_pairs(F.col("count")))).first()[0] or 0
        true = df.groupBy("true_person_id").count().agg(F.sum(_pairs(F.col("count")))).first()[0] or 0
        both = (
            df.groupBy("person_id", "true_person_id").count().agg(F.sum(_pairs(F.col("count")))).first()[0]
            or 0
        )
        return float(pred), float(true), float(both)

    def ratios(pred: float, true: float, both: float) -> tuple[float, float, float]:
        precision = both / pred if pred else 1.0
        recall = both / true if true else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    pred, true, both = pair_counts(joined)
    precision, recall, f1 = ratios(pred, true, both)
    # Pairs with at least one non-ID record = all pairs - pairs of two ID records.
    id_only = joined.filter(F.col("match_method") == METHOD_ID)
    pred_id, true_id, both_id = pair_counts(id_only)
    p_prob, r_prob, f1_prob = ratios(pred - pred_id, true - true_id, both - both_id)
    out: dict[str, Any] = {
        "records": joined.count(),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "pairs_predicted": int(pred),
        "pairs_true": int(true),
        "pairs_correct": int(both),
        "probabilistic_precision": p_prob,
        "probabilistic_recall": r_prob,
        "probabilistic_f1": f1_prob,
        "records_by_method": {
            r["match_method"]: int(r["count"]) for r in cw.groupBy("match_method").count().collect()
        },
    }
    if result is not None:
        out["pairs_compared"] = result.pairs_compared
        out["backend"] = result.backend
        out["seconds"] = result.seconds
    return out
