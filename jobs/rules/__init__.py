"""Column rules more than one layer applies (bronze's acceptance checks and silver's standardization).

Kept out of ``jobs/silver/rules`` so that bronze, which runs first, does not import the silver layer;
silver's rule modules re-export what they use from here.
"""
