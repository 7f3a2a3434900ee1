"""demine: the register and planner of a humanitarian mine action programme.

The package is split by concern; imports go one way, from the bottom up:

``domain`` (pure rules and code lists) → ``geometry`` → ``storage`` → ``register`` and
``landrelease`` → ``synthetic`` and ``reports`` → ``cli``.
"""

__version__ = "0.1.0"
