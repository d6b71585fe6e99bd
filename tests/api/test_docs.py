"""docs/python.md runs as written: its Python blocks, in order, against the log it names."""

from __future__ import annotations

import re

from tests.realdata import copy_log, require_real

from .conftest import REPO


def test_python_guide_examples_run_in_order(tmp_path, monkeypatch):
    text = (REPO / "docs" / "python.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert len(blocks) >= 8
    copy_log(require_real("real"), tmp_path / "data" / "real-2021")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "guide"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/python.md block {number}", "exec"), namespace)
    assert namespace["same_as_cli"]["bids"][0] == ["0.3527", "9602"]
