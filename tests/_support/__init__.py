"""Helpers shared by the tests. Not tests themselves, and they never import a test module.

``tests/`` is on ``sys.path`` (``pythonpath`` in ``pyproject.toml``), so a test says
``from _support.process import spawn``. Fixtures live in ``tests/conftest.py``.

* :mod:`_support.paths`: where the examples and the test servers are.
* :mod:`_support.messages`: JSON-RPC messages the raw-pipe tests send.
* :mod:`_support.process`: a server subprocess driven over its stdio pipes.
* :mod:`_support.faulty`: the ``diag`` tool and exit counters of ``tests/servers/faulty_server.py``.
* :mod:`_support.malformed`: the malformed-input table (data), run as a script it prints it.
* :mod:`_support.fuzzing`: hypothesis strategies for JSON-RPC lines, and answer oracles.
* :mod:`_support.app_server`: an in-memory server with every primitive, for ``tests/app``.
* :mod:`_support.sdk_client`: the official ``mcp`` client spawning an example server.
"""
