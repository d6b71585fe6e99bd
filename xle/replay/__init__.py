"""Reading the raw log back: partition pruning, k-way merge in replay order, seeking.

``xle.replay.reader`` has ``LogReader``, ``replay_from`` and ``check_files``; the modules
are imported on demand so that the package itself stays import-light.
"""
