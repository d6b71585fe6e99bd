"""The log on disk: layout and partitions (``layout``, ``paths``), the writer with its
journal and recovery (``writer``, ``journal``), compaction, the reader (pruning, k-way
merge, seek), derived outputs and DuckDB views. ``xle.open`` (``xle.replay.log``) is the
object most callers want; these modules are its parts.
"""
