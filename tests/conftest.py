import pytest
from django.contrib.auth import get_user_model

from consent.management.commands.createsurgeon import create_surgeon
from procedures.library import BUNDLED_LIBRARY, load_library, read_library_file

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session", autouse=True)
def test_pki():
    """A throwaway CA and sealing certificate for the whole test run (see tests/settings.py)."""
    from django.conf import settings

    from consent.pki import PkiPaths, create_dev_pki

    paths = PkiPaths.in_dir(settings.PDF_SIGNING_CERT.parent)
    if not paths.exist():
        create_dev_pki(paths.ca_cert.parent, organisation="Test Hospital")
    return paths


@pytest.fixture
def library(db):
    """The bundled starter library, loaded."""
    load_library(read_library_file(BUNDLED_LIBRARY))


@pytest.fixture
def surgeon(db):
    return create_surgeon(
        username="owner", email="owner@example.org", password=PASSWORD, last_name="Owner"
    )


@pytest.fixture
def colleague(db):
    return create_surgeon(
        username="colleague", email="colleague@example.org", password=PASSWORD, last_name="Peer"
    )


@pytest.fixture
def outsider(db):
    return create_surgeon(
        username="outsider", email="outsider@example.org", password=PASSWORD, last_name="Out"
    )


@pytest.fixture
def plain_user(db):
    return get_user_model().objects.create_user("plain", "plain@example.org", PASSWORD)
