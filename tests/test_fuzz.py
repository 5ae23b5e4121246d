"""Fuzzing every endpoint: no request, however malformed, gets a server error.

A few hundred requests with a fixed seed run in `make test`; bench/fuzz.py sends 10,000 and
prints the figures. See tests/fuzzing.py for what is sent.
"""

import logging

import pytest

from .fuzzing import World, endpoints, run, sweep

pytestmark = pytest.mark.django_db(transaction=True)

PER_ENDPOINT = 5  # about 90 endpoints: some 450 requests


@pytest.fixture
def world(settings):
    settings.TRUSTED_PROXY_COUNT = 1  # so that X-Forwarded-For garbage reaches client_ip
    return World.build()


@pytest.fixture(autouse=True)
def quiet(caplog):
    """Thousands of 4xx warnings are expected; server errors are counted by the report."""
    caplog.set_level(logging.CRITICAL, logger="django")
    caplog.set_level(logging.CRITICAL, logger="axes")


def test_no_fuzzed_request_gets_a_server_error(world):
    report = sweep(world, per_endpoint=PER_ENDPOINT, seed_value=20261121)
    assert report.sent == PER_ENDPOINT * len(endpoints())
    assert set(report.by_endpoint) == {endpoint.name for endpoint in endpoints()}
    assert not report.server_errors, "\n\n".join(
        f"{request!r}\n{detail}" for request, _, detail in report.server_errors[:3]
    )


def test_the_fuzzer_sees_a_server_error_when_there_is_one(world, settings):
    settings.ROOT_URLCONF = "tests.error_urls"  # the app plus /boom/, which always fails
    report = run(world, requests=100, seed_value=1, urlconf="tests.error_urls")
    assert report.server_errors
    assert {request.endpoint for request, _, _ in report.server_errors} == {"(boom/)"}
    assert "RuntimeError: a bug, on purpose" in report.causes().most_common(1)[0][0]
