import pytest
from django.contrib.auth import get_user_model

from consent.management.commands.createsurgeon import create_surgeon
from procedures.library import BUNDLED_LIBRARY, load_library, read_library_file

PASSWORD = "correct horse battery"


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
