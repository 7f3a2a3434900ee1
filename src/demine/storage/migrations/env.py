"""Alembic environment: runs migrations on the engine demine passes in."""

from alembic import context

from demine.storage.schema import metadata

engine = context.config.attributes.get("engine")
if engine is None:  # `alembic` command line, e.g. autogenerate during development
    from demine.storage.database import open_engine

    engine = open_engine(context.config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
