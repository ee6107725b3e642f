"""govlake: the province's government data lake (raw -> bronze -> silver -> gold -> share)."""

__version__ = "0.1.0"
