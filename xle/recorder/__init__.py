"""Live capture: connections, reconnects, snapshots, and the append-only raw-log writer.

Kept free of imports so that ``import xle.recorder.<module>`` pulls in only what that
module needs (the log writer needs pyarrow, the feeds need websockets and httpx).
"""
