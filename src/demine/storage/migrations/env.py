"""Alembic environment: runs migrations on the engine demine passes in."""

from alembic import context

from demine.storage.schema import metadata

engine = context.config.attributes.get("engine")
if engine is None:  # `alembic` command line, e.g. autogenerate during development
    from demine.storage.database import open_engine

    engine = open_engine(context.config.get_main_option("sqlalchemy.url"))


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    # GeoPackage's own tables and R*Tree shadow tables are not part of demine's schema.
    return not (type_ == "table" and (name.startswith(("gpkg_", "rtree_"))))


with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        # Geometry columns reflect as their declared names; comparing types would churn.
        compare_type=False,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
