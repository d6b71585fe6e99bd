"""Replaying the raw log through the engine: the replay driver, pacing, audit and the
outputs it writes. The log itself (reading, merging, seeking) lives in ``xle.store``.
"""
