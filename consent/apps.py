from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consents"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the deploy checks
        from .roles import ensure_roles

        # Permissions exist only after migrate has run, so the role groups are kept in step
        # with them here rather than in a data migration.
        post_migrate.connect(ensure_roles, sender=self)
