"""Protocol-faithful Binance, Binance.US and Coinbase servers on 127.0.0.1.

See docs/design.md, "The simulator".

    from xle.simulator import SimConfig, Simulator, FaultConfig, final_truth

    async with Simulator(SimConfig(seed=1, truth_dir=tmp)) as sim:
        sim.port, sim.urls["binance"].ws, sim.urls["binance"].rest, sim.urls["coinbase"].ws

    with start_in_thread(SimConfig(seed=1)) as handle:   # from synchronous code
        handle.port, handle.urls, handle.pause(), handle.book("binance", "BTCUSDT")

Modules: ``market`` (the seeded model: ``prices`` + ``book``), ``binance_server`` and
``coinbase_server`` (the protocols), ``server`` (one port, the clock, the thread
handle), ``faults``, ``truth`` (ground truth on disk), ``commands`` (``xle simulate``).
"""

from xle.simulator.config import DEFAULT_MARKETS, VENUES, SimConfig
from xle.simulator.faults import FaultConfig
from xle.simulator.market import BookSnapshot, MarketModel, Step, TradePrint
from xle.simulator.server import HOST, SimHandle, Simulator, VenueUrls, start_in_thread
from xle.simulator.truth import TruthBook, final_truth, truth_book_at, truth_path

__all__ = [
    "DEFAULT_MARKETS",
    "HOST",
    "VENUES",
    "BookSnapshot",
    "FaultConfig",
    "MarketModel",
    "SimConfig",
    "SimHandle",
    "Simulator",
    "Step",
    "TradePrint",
    "TruthBook",
    "VenueUrls",
    "final_truth",
    "start_in_thread",
    "truth_book_at",
    "truth_path",
]
