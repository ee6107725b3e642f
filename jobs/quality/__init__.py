"""The quality gate: Great Expectations suites, validation of Delta table versions, publication."""
