"""``python -m govlake.synthetic --scale N --out PATH [--seed S]``."""

from govlake.cli_generate import app

app()
