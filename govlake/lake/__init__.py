"""The lake: one catalogue of every table and stored object, and the versions readers may see.

``govlake.lake.catalogue``  where every table lives, its zone, library, key, classification, owner
``govlake.lake.published``  the publication log, pins of input versions, published reads
``govlake.lake.delta``      Delta operations written once (exists, versions, appends)
"""

from govlake.lake.catalogue import Catalogue, CatalogueError, Location, Table, bronze_id, load_catalogue
from govlake.lake.published import PUBLICATIONS, Lake, NotPublished, Pins, Publication

__all__ = [
    "PUBLICATIONS",
    "Catalogue",
    "CatalogueError",
    "Lake",
    "Location",
    "NotPublished",
    "Pins",
    "Publication",
    "Table",
    "bronze_id",
    "load_catalogue",
]
