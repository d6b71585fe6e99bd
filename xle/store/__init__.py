"""The log on disk or object storage: where a root lives (``fs``: local paths and
``s3://`` URIs), layout and partitions (``layout``, ``paths``), the writer with its
journal and recovery (``writer``, ``journal``), compaction, the reader (``read_records``
in ``reader``; ``listing`` prunes partitions, ``merge`` merges files, ``seek`` finds
where a read from T0 starts), derived outputs and DuckDB views. ``xle.open``
(``xle.replay.log``) is the object most callers want; these modules are its parts.
"""
