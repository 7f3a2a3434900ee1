"""The demine web service: REST API, OGC API – Features, vector tiles (``demine serve``).

:func:`demine.api.app.create_app` builds the FastAPI application; every route is a thin
layer over the library (:mod:`demine.register`, :mod:`demine.workflow`,
:mod:`demine.accounts`, :mod:`demine.reports`).
"""
