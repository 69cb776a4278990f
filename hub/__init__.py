"""The ingestion hub's service core: settings, domain model, wire contract, pipeline, stores."""

__version__ = "0.1.0"
