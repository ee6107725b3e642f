"""The gold zone: dbt marts over the published base libraries (dbt_project/, the gold.marts step)."""
