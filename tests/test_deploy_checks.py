"""`manage.py check --deploy` with production settings: clean with a hospital's certificate
and the defaults, and loud about each thing a deployment would get wrong."""

import json

import pytest
from django.db import connection

from consent.pki import create_dev_pki, create_pki
from tests.production import manage, production_env

CLEAN = "System check identified no issues (0 silenced)."


@pytest.fixture(scope="module")
def hospital_pki(tmp_path_factory):
    """Certificates shaped like a hospital's own: not marked DEVELOPMENT ONLY."""
    return create_pki(
        tmp_path_factory.mktemp("hospital-pki"), organisation="St Example", development=False
    )


def check_deploy(env):
    return manage("check", "--deploy", "--fail-level", "WARNING", env=env)


def settings_values(env, *names):
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}))"
    )
    result = manage("shell", "--verbosity", "0", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_it_passes_every_deploy_check_with_a_hospital_certificate_and_the_defaults(hospital_pki):
    result = check_deploy(production_env(hospital_pki))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == CLEAN
    assert result.stderr == ""


def test_it_warns_while_pdfs_are_sealed_with_the_development_certificate(tmp_path):
    result = check_deploy(production_env(create_dev_pki(tmp_path, organisation="Dev")))
    assert result.returncode != 0
    assert "consent.W001" in result.stderr


def test_it_warns_when_hsts_is_turned_off(hospital_pki):
    result = check_deploy(production_env(hospital_pki, SECURE_HSTS_SECONDS="0"))
    assert result.returncode != 0
    assert "security.W004" in result.stderr


def test_it_warns_when_https_is_turned_off(hospital_pki):
    env = production_env(hospital_pki, SECURE_SSL_REDIRECT="0", SECURE_COOKIES="0")
    result = check_deploy(env)
    assert result.returncode != 0
    for check in ("security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


def test_production_is_https_only_with_a_year_of_hsts_by_default(hospital_pki):
    values = settings_values(
        production_env(hospital_pki),
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
    )
    assert values == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_each_https_setting_can_be_set_from_the_environment(hospital_pki):
    env = production_env(
        hospital_pki,
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
        SECURE_HSTS_PRELOAD="0",
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
        BEHIND_TLS_PROXY="1",
    )
    values = settings_values(
        env,
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "SECURE_PROXY_SSL_HEADER",
    )
    assert values == {
        "SECURE_HSTS_SECONDS": 600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_development_sends_no_hsts_and_does_not_redirect(hospital_pki):
    values = settings_values(
        production_env(hospital_pki, DEBUG="1"),
        "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
    )
    assert values == {
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
    }


def test_production_keeps_database_connections_and_checks_them_before_reuse(hospital_pki):
    values = settings_values(production_env(hospital_pki), "DATABASES")
    assert values["DATABASES"]["default"]["CONN_MAX_AGE"] == 60
    assert values["DATABASES"]["default"]["CONN_HEALTH_CHECKS"] is True


def test_development_opens_a_connection_per_request(hospital_pki):
    values = settings_values(production_env(hospital_pki, DEBUG="1"), "DATABASES")
    assert values["DATABASES"]["default"]["CONN_MAX_AGE"] == 0


def test_the_connection_lifetime_can_be_set_from_the_environment(hospital_pki):
    env = production_env(
        hospital_pki, DATABASE_CONN_MAX_AGE="0", DATABASE_CONN_HEALTH_CHECKS="false"
    )
    default = settings_values(env, "DATABASES")["DATABASES"]["default"]
    assert (default["CONN_MAX_AGE"], default["CONN_HEALTH_CHECKS"]) == (0, False)


@pytest.mark.django_db
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="roles are PostgreSQL's")
def test_the_app_must_not_connect_as_a_role_that_can_switch_the_guards_off():
    from django.db import DatabaseError, transaction

    from consent.checks import database_role

    # The tests connect as the superuser postgres: warned.
    assert [w.id for w in database_role(None, databases=["default"])] == ["consent.W003"]
    # A role with row rights only, as docs/deploy.md sets up (rolled back with the test).
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE consent_test_app")
        cursor.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
            "TO consent_test_app"
        )
        cursor.execute("SET LOCAL ROLE consent_test_app")
    try:
        assert database_role(None, databases=["default"]) == []
        with (
            pytest.raises(DatabaseError, match="must be owner"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("ALTER TABLE consent_auditevent DISABLE TRIGGER USER")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
