"""Tests only: Django's flush, which transactional tests run after each test, with the guard
triggers lifted (they refuse TRUNCATE and DELETE of the consent record, as they should), and
the audit chain's head put back as migration 0002 made it."""

from django.core.management.commands import flush
from django.db import connections

from consent.audit import GENESIS_HASH
from consent.models import AuditChainHead
from tests.insider import guards_lifted


class Command(flush.Command):
    def handle(self, **options):
        database = options["database"]
        with guards_lifted(connections[database]):
            super().handle(**options)
        AuditChainHead.objects.using(database).get_or_create(
            pk=1, defaults={"last_sequence": 0, "last_hash": GENESIS_HASH}
        )
