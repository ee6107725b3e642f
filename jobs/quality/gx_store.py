"""A Great Expectations store backend on the lake's own storage, for lakes on the S3 object store.

GX 1.x keeps only a filesystem backend (its S3 backend was removed), so validation results and the
Data Docs site of an ``s3a://`` lake would have nowhere to go. :class:`LakeStoreBackend` stores GX's
tuple keys as objects below a base location through :mod:`govlake.storage` (pyarrow's S3 client, the
same credentials and endpoint as every other byte the lake holds): validation results in
``<quality>/gx/validations/``, Data Docs in ``<quality>/gx/data_docs/local_site/``, exactly the layout
of a local lake.

GX builds the backend from plain config (no secrets in it): the config names the lake's storage root
and the settings are looked up in :data:`_SETTINGS`, which :func:`register_settings` fills before the
context is built.
"""

from __future__ import annotations

import posixpath
from typing import Any

from great_expectations.data_context.store.store_backend import StoreBackend
from great_expectations.data_context.store.tuple_store_backend import TupleStoreBackend
from great_expectations.exceptions import InvalidKeyError

from govlake import storage
from govlake.config import Settings

#: storage root -> the settings it was opened with (credentials stay out of GX's config).
_SETTINGS: dict[str, Settings] = {}


def register_settings(settings: Settings) -> None:
    _SETTINGS[settings.storage_root] = settings


class LakeStoreBackend(TupleStoreBackend):
    """GX tuple keys as objects under ``base_location`` (``s3a://bucket/prefix/...``) of one lake."""

    def __init__(
        self,
        storage_root: str,
        base_location: str,
        filepath_template: str | None = None,
        filepath_prefix: str | None = None,
        filepath_suffix: str | None = None,
        forbidden_substrings: list[str] | None = None,
        platform_specific_separator: bool = False,
        fixed_length_key: bool = False,
        suppress_store_backend_id: bool = False,
        manually_initialize_store_backend_id: str = "",
        base_public_path: str | None = None,
        store_name: str | None = None,
    ) -> None:
        super().__init__(
            filepath_template=filepath_template,
            filepath_prefix=filepath_prefix,
            filepath_suffix=filepath_suffix,
            forbidden_substrings=forbidden_substrings,
            platform_specific_separator=False,  # object keys always use "/"
            fixed_length_key=fixed_length_key,
            suppress_store_backend_id=suppress_store_backend_id,
            manually_initialize_store_backend_id=manually_initialize_store_backend_id,
            base_public_path=base_public_path,
            store_name=store_name,
        )
        if storage_root not in _SETTINGS:
            raise LookupError(f"no settings registered for the lake at {storage_root}")
        self._settings = _SETTINGS[storage_root]
        self._base = base_location.rstrip("/")
        self._config = {
            "storage_root": storage_root,
            "base_location": base_location,
            "filepath_template": filepath_template,
            "filepath_prefix": filepath_prefix,
            "filepath_suffix": filepath_suffix,
            "forbidden_substrings": forbidden_substrings,
            "fixed_length_key": fixed_length_key,
            "suppress_store_backend_id": suppress_store_backend_id,
            "manually_initialize_store_backend_id": manually_initialize_store_backend_id,
            "base_public_path": base_public_path,
            "store_name": store_name,
            "module_name": self.__class__.__module__,
            "class_name": self.__class__.__name__,
        }
        if not self._suppress_store_backend_id:
            _ = self.store_backend_id

    def _path(self, key: tuple) -> str:
        return f"{self._base}/{self._convert_key_to_filepath(key)}"

    def _get(self, key: tuple) -> str:
        path = self._path(key)
        if not storage.exists(self._settings, path):
            raise InvalidKeyError(f"no object for key {key} at {path}")
        return storage.read_bytes(self._settings, path).decode("utf-8").rstrip("\n")

    def _get_all(self) -> list[Any]:
        return [self._get(k) for k in self.list_keys() if k != StoreBackend.STORE_BACKEND_ID_KEY]

    def _set(self, key: Any, value: str | bytes, **kwargs: Any) -> str:
        if not isinstance(key, tuple):
            key = key.to_tuple()
        path = self._path(key)
        storage.write_bytes(self._settings, path, value.encode("utf-8") if isinstance(value, str) else value)
        return path

    def _move(self, source_key: tuple, dest_key: tuple, **kwargs: Any) -> tuple | bool:
        source = self._path(source_key)
        if not storage.exists(self._settings, source):
            return False
        storage.write_bytes(self._settings, self._path(dest_key), storage.read_bytes(self._settings, source))
        storage.delete(self._settings, source)
        return dest_key

    def list_keys(self, prefix: tuple = ()) -> list[tuple]:
        root = "/".join([self._base, *prefix])
        keys = []
        for stored in storage.list_files(self._settings, root):
            relative = posixpath.relpath(stored.path, self._base)
            if self._is_missing_prefix_or_suffix(self.filepath_prefix, self.filepath_suffix, relative):
                continue
            key = self._convert_filepath_to_key(relative)
            if key and not self.is_ignored_key(key):
                keys.append(key)
        return keys

    def remove_key(self, key: Any) -> bool:
        if not isinstance(key, tuple):
            key = key.to_tuple()
        path = self._path(key)
        if not storage.exists(self._settings, path):
            return False
        storage.delete(self._settings, path)
        return True

    def _has_key(self, key: tuple) -> bool:
        return storage.exists(self._settings, self._path(key))

    def get_url_for_key(self, key: tuple, protocol: str | None = None) -> str:
        return self._path(key)

    def get_public_url_for_key(self, key: tuple, protocol: str | None = None) -> str:
        if not self.base_public_path:
            raise ValueError("base_public_path is not set")
        return f"{self.base_public_path.rstrip('/')}/{self._convert_key_to_filepath(key)}"

    @property
    def config(self) -> dict:
        return self._config
