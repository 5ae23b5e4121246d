"""The documentation cannot drift from the code: every environment variable the app reads is
in docs/deploy.md's table and in the README's configuration table, and nothing else is."""

import re

from tests.production import ROOT

READERS = [ROOT / "config" / "settings.py", ROOT / "config" / "gunicorn.conf.py"]
# env_str("NAME", ...) and friends, over line breaks; os.environ.get("NAME") for the few read
# before the helpers exist.
READ = re.compile(
    r"""\b(?:env_(?:str|bool|int|list|rate)|os\.environ\.get)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
)
ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|", re.MULTILINE)
# Read by gunicorn itself, not by our code; documented all the same.
THIRD_PARTY = {"FORWARDED_ALLOW_IPS"}


def variables_read() -> set[str]:
    return {name for path in READERS for name in READ.findall(path.read_text())}


def table_rows(text: str) -> set[str]:
    """The variables named in the table headed | Variable | Default | Meaning | at the end of
    the section it belongs to (the last such table in `text`)."""
    table = text[text.rindex("| Variable | Default | Meaning |") :]
    table = table[: table.find("\n\n")] if "\n\n" in table else table
    return set(ROW.findall(table))


def readme_configuration_table() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    return table_rows(section)


def test_it_finds_the_variables_the_settings_read():
    found = variables_read()
    assert {"SECRET_KEY", "EMAIL_BACKEND", "DOTENV_FILE", "GUNICORN_WORKERS"} <= found
    assert len(found) >= 50


def test_every_variable_is_in_the_deploy_guide():
    documented = table_rows((ROOT / "docs" / "deploy.md").read_text())
    assert sorted(variables_read() - documented) == []


def test_every_variable_is_in_the_readmes_configuration_table():
    assert sorted(variables_read() - readme_configuration_table()) == []


def test_the_tables_name_no_variable_that_nothing_reads():
    known = variables_read() | THIRD_PARTY
    assert sorted(readme_configuration_table() - known) == []
    assert sorted(table_rows((ROOT / "docs" / "deploy.md").read_text()) - known) == []
