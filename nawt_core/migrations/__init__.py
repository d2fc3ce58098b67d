"""Alembic's migration environment for the store, shipped inside the package.

``nawt_core.migrate`` configures Alembic in code (no alembic.ini): the script
location is ``nawt_core:migrations``, and the revisions in ``versions/`` run on
the connection the store opened. A new revision: copy the newest file in
``versions/``, give it the next number, set ``down_revision`` to the one
before, and write ``upgrade()`` with ``op.batch_alter_table`` (SQLite cannot
alter columns in place); ``tests/test_migrations.py`` checks that the
revisions end at the models' schema.
"""
