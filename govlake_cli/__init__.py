"""The ``govlake`` command line (above the platform and the jobs: it may import both)."""
