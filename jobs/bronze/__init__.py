"""Bronze zone: one Delta table per dataset, canonical columns plus lineage; quarantine and ingest log."""
