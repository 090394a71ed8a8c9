"""One stdio server script per peer; each exposes ``echo``, ``add`` and ``sleep``."""
