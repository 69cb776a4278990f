"""Time-series stores: the :class:`ReadingStore` protocol and its backends.

Backends: ``sqlite`` (embedded default) and ``influx`` (InfluxDB 1.x, 2.x, 3.x);
:func:`open_store` picks one from the settings. docs/storage.md describes both.
"""

from hub.adapters.store.base import (
    NO_SEQ,
    Downsampled,
    ReadingCursor,
    ReadingStore,
    Series,
    StoreError,
    StoreRejected,
    StoreUnavailable,
    WriteResult,
    cursor_of,
    open_store,
    validate_for_store,
)

__all__ = [
    "NO_SEQ",
    "Downsampled",
    "ReadingCursor",
    "ReadingStore",
    "Series",
    "StoreError",
    "StoreRejected",
    "StoreUnavailable",
    "WriteResult",
    "cursor_of",
    "open_store",
    "validate_for_store",
]
