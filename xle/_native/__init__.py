"""The compiled core (book, walks, wire parsers) and its pure-Python twin.

``xle._native.book.COMPILED`` is the one switch: True when the Cython extension was built,
and every caller picks the compiled or Python path from it."""
