"""The library raises and never prints: only ``xle/cli`` writes to the terminal.

Read from the source with ``ast`` (not a text search, so a docstring saying "print" is
no hit): a call of ``print``, anything from ``typer`` or ``rich``, ``sys.stdout`` or
``sys.stderr``, or ``os.write`` outside ``xle/cli`` is a finding. A module that must
write to the terminal goes in ``ALLOWED`` with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "xle"

#: module path (relative to xle/) -> why it may write to the terminal. None today.
ALLOWED: dict[str, str] = {}


def _findings(path: Path, root: Path = PACKAGE) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] in ("typer", "rich")]
            what = f"import {', '.join(names)}" if names else None
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in ("typer", "rich"):
                what = f"from {node.module} import"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ("print", "breakpoint"):
                what = f"{node.func.id}()"
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "sys" and node.attr in ("stdout", "stderr", "__stdout__"):
                what = f"sys.{node.attr}"
            elif node.value.id == "os" and node.attr == "write":
                what = "os.write"
        if what is not None:
            found.append(f"{path.relative_to(root)}:{node.lineno}: {what}")
    return sorted(found)


def _library_modules() -> list[Path]:
    return sorted(
        p
        for p in PACKAGE.rglob("*.py")
        if "cli" not in p.relative_to(PACKAGE).parts[:1]
        and str(p.relative_to(PACKAGE)) not in ALLOWED
    )


def test_no_module_outside_xle_cli_writes_to_the_terminal() -> None:
    modules = _library_modules()
    assert len(modules) > 30  # the walk found the package
    findings = [line for path in modules for line in _findings(path)]
    assert findings == []


def test_the_check_finds_print_stderr_and_rich_but_not_a_docstring(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text(
        '"""print() in a docstring is fine."""\n'
        "import sys\n"
        'print("hi")\n'
        "sys.stderr.write('x')\n"
        "from rich.console import Console\n"
    )
    assert _findings(module, tmp_path) == [
        "probe.py:3: print()",
        "probe.py:4: sys.stderr",
        "probe.py:5: from rich.console import",
    ]
