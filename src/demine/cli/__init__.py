"""The ``demine`` command line: thin Typer wrappers over the library, one module per concern."""
