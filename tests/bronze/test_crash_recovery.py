"""A load killed mid-write leaves consistent tables, and a re-run finishes the job exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from govlake.lake import Lake

# Runs in a child process: loads one file, but the bronze append writes its Parquet files into the
# table folder and then the process is SIGKILLed before Delta can commit: the state a power cut
# or an OOM-kill mid-write leaves behind. The quarantine append beside it may have committed.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import jobs.bronze.load as load
    from govlake.config import load_settings

    real_append = load._append_once

    def append_then_die(df, path, app_id):
        if "/bronze/" in path and "_ingest_log" not in path:
            df.write.mode("append").parquet(path)  # data files without a commit
            os.kill(os.getpid(), signal.SIGKILL)
        real_append(df, path, app_id)

    load._append_once = append_then_die
    load.load_file(sys.argv[1], sys.argv[2], load_settings())
    """
)


def test_killed_load_then_rerun_gives_exact_rows(spark, bronze_settings, test_registry_path, drop):
    from jobs.bronze.load import load_file
    from jobs.raw.land import land_new_files

    settings = bronze_settings
    lake = Lake(settings)
    lines = ["记录号|身份证号|姓名|出生日期|住址"] + [
        f"K{i}|{i}|某{i}|19900101|地址{i}" for i in range(1, 51)
    ]
    lines.append("K51|short")  # one quarantined row
    drop(settings, "test_household_gbk", "kill.csv", ("\n".join(lines) + "\n").encode("gbk"))
    file_hash = land_new_files("test_household_gbk", settings)[0]["file_hash"]

    env = os.environ | {
        "GOVLAKE_STORAGE_ROOT": settings.storage_root,
        "GOVLAKE_REGISTRY": str(test_registry_path),
    }
    child = subprocess.run(
        [sys.executable, "-c", CHILD, "test_household_gbk", file_hash],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == -9, child.stderr[-2000:]

    bronze_path = lake.path("bronze.household_registration")
    bronze = spark.read.format("delta").load(bronze_path)
    assert bronze.where(f"_file_hash = '{file_hash}'").count() == 0  # uncommitted files are invisible

    result = load_file("test_household_gbk", file_hash, settings)
    assert (result["rows_in"], result["rows_accepted"], result["rows_quarantined"]) == (51, 50, 1)
    assert spark.read.format("delta").load(bronze_path).where(f"_file_hash = '{file_hash}'").count() == 50
    # Whether or not the quarantine append had committed before the kill, it holds the row once.
    quarantine = spark.read.format("delta").load(lake.path("quarantine.bronze_rows"))
    assert quarantine.where(f"_file_hash = '{file_hash}'").count() == 1
    history = spark.sql(f"DESCRIBE HISTORY delta.`{bronze_path}`").collect()
    assert history[0]["operation"] == "WRITE" and history[0]["version"] == max(h["version"] for h in history)
