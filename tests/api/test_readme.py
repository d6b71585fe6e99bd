"""The README's Python example runs as written, against a copy of the log it names."""

from __future__ import annotations

import re
import shutil

from .conftest import DATA, REPO


def _python_example() -> str:
    text = (REPO / "README.md").read_text("utf-8")
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the Python section has one example"
    return blocks[0]


def test_readme_python_section_follows_the_command_line_section():
    headings = re.findall(r"^## (.+)$", (REPO / "README.md").read_text("utf-8"), re.MULTILINE)
    assert headings[headings.index("Command line") + 1] == "Python"


def test_readme_python_example_runs_and_prints_what_it_says(tmp_path, monkeypatch, capsys):
    # The golden log records the demo's BTCUSDT and BTC-USD in the same layout.
    shutil.copytree(DATA / "golden" / "raw", tmp_path / "data" / "demo" / "raw")
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_example(), "README.md", "exec"), {"__name__": "readme"})
    printed = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"synced \('[\d.]+', '[\d.]+'\) \('[\d.]+', '[\d.]+'\)", printed[0])
    assert any(" gap BTCUSDT" in line for line in printed)
    assert (tmp_path / "data" / "demo" / "derived" / "quotes").is_dir()
