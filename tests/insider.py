"""What someone with full rights on the database can do, for tests that play the insider.

A PostgreSQL superuser can switch every trigger off for their session
(session_replication_role = replica); on SQLite anyone with the file can drop triggers.
"""

from contextlib import contextmanager

from django.db import connection as default_connection

from consent.db_guards import drop_all_sqlite_triggers, install_sqlite_triggers


@contextmanager
def guards_lifted(connection=default_connection):
    """The database's guard triggers are off inside the block, back on after it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = DEFAULT")
    else:
        drop_all_sqlite_triggers(connection)
        try:
            yield
        finally:
            install_sqlite_triggers(connection)
