"""Pipeline jobs, one package per zone: raw, bronze, silver (the base libraries), gold, share, quality."""
