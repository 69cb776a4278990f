"""Time-series stores: the :class:`ReadingStore` protocol and its backends."""

from hub.store.base import (
    ReadingStore,
    Series,
    StoreError,
    StoreRejected,
    StoreUnavailable,
    WriteResult,
    open_store,
)

__all__ = [
    "ReadingStore",
    "Series",
    "StoreError",
    "StoreRejected",
    "StoreUnavailable",
    "WriteResult",
    "open_store",
]
