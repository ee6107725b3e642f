"""The pipeline: one graph of steps (:mod:`.graph`) and the functions that run them (:mod:`.run`)."""
