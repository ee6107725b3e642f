"""Silver zone: standardize bronze extracts into the base libraries (population, legal persons, geography)."""
