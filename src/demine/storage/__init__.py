"""The embedded store: a SQLite file that is also a valid OGC GeoPackage.

QGIS and GDAL open the database directly; demine's own code reaches it through SQLAlchemy 2
and evolves it with Alembic migrations.
"""
