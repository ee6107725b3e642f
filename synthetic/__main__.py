"""``python -m synthetic --scale N --out PATH [--seed S]``."""

from synthetic.cli import app

app()
