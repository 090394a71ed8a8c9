"""Helpers shared by the tests. Not tests themselves, and they never import a test module.

``tests/`` is on ``sys.path`` (``pythonpath`` in ``pyproject.toml``), so a test says
``from _support.process import spawn``. Fixtures live in ``tests/conftest.py``.

* :mod:`_support.paths`: where the examples and the test servers are.
* :mod:`_support.messages`: JSON-RPC messages the raw-pipe tests send.
* :mod:`_support.process`: a server subprocess driven over its stdio pipes.
"""
