"""Builds the optional compiled book (``xle/_native/_fastbook.pyx``); metadata lives in
pyproject.toml. If Cython or a C compiler is missing, or the build fails, xle installs
without it and ``xle._native.book`` falls back to the pure-Python book (same outputs).
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """A failed compile is a warning, not a failed install: the fallback is exact."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # compiler missing, headers missing, ...
            print(f"warning: compiled book not built ({exc}); using pure Python", file=sys.stderr)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            print(f"warning: {ext.name} not built ({exc}); using pure Python", file=sys.stderr)


def _extensions() -> list[Extension]:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("warning: Cython not available; using the pure-Python book", file=sys.stderr)
        return []
    fastbook = Extension(
        "xle._native._fastbook",
        ["xle/_native/_fastbook.pyx"],
        # No fused multiply-add: every sum must round exactly like the Python code's.
        extra_compile_args=["-O2", "-ffp-contract=off"],
    )
    try:
        return cythonize([fastbook], compiler_directives={"language_level": 3}, quiet=True)
    except Exception as exc:  # e.g. a source tree without the .pyx/.pxi
        print(f"warning: compiled book not generated ({exc}); using pure Python", file=sys.stderr)
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
