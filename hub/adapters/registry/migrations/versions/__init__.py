"""Registry schema versions, one file per revision, applied in order by ``revision`` ids.

A released file is never edited: a change to the schema is a new file (docs/registry.md).
"""
