"""Housekeeping of the lake's Delta tables (the maintenance step)."""
