from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from procedures.library import BUNDLED_LIBRARY, export_library
from procedures.models import ConsentItem, Procedure

EXPECTED_RISKS = {
    "lumbar-fusion-l5-s1": 10,
    "lumbar-fusion-l4-l5-s1": 12,
    "lumbar-fusion-l3-s1": 10,
    "low-back-fusion": 10,
    "lumbar-rhizotomy": 6,
}


def bundled() -> dict:
    return yaml.safe_load(BUNDLED_LIBRARY.read_text())


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "library.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def load(*args) -> str:
    out = StringIO()
    call_command("load_procedures", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
class TestBundledLibrary:
    def test_it_loads_the_five_procedures_with_their_risks(self):
        load()
        counts = {p.slug: p.items.count() for p in Procedure.objects.all()}
        assert counts == EXPECTED_RISKS

    def test_it_marks_every_bundled_procedure_for_clinical_review(self):
        load()
        assert not Procedure.objects.filter(needs_clinical_review=False).exists()

    def test_it_puts_the_l3_s1_success_figure_in_the_benefits(self):
        load()
        assert "70-90%" in Procedure.objects.get(slug="lumbar-fusion-l3-s1").benefits

    def test_every_alternatives_section_offers_conservative_care(self):
        load()
        for procedure in Procedure.objects.all():
            assert "physical therapy" in procedure.alternatives
            assert "choose not to have" in procedure.no_surgery

    def test_it_is_idempotent(self):
        load()
        before = list(Procedure.objects.values_list("slug", "revision", "content_sha256"))
        items_before = list(ConsentItem.objects.values_list("pk", "order", "title"))
        out = load()
        assert "0 were created, 0 updated, 5 unchanged" in out
        assert list(Procedure.objects.values_list("slug", "revision", "content_sha256")) == before
        assert list(ConsentItem.objects.values_list("pk", "order", "title")) == items_before

    def test_verbose_output_names_each_procedure_and_what_happened(self):
        load()
        out = StringIO()
        call_command("load_procedures", "--dry-run", stdout=out, verbosity=2)
        for slug in EXPECTED_RISKS:
            assert f"  unchanged: {slug}\n" in out.getvalue()

    def test_dry_run_saves_nothing(self):
        out = load("--dry-run")
        assert "5 would be created" in out
        assert Procedure.objects.count() == 0

    def test_skip_existing_keeps_local_edits(self):
        load()
        Procedure.objects.filter(slug="lumbar-rhizotomy").update(name="Edited by our clinicians")
        load("--skip-existing")
        assert Procedure.objects.get(slug="lumbar-rhizotomy").name == "Edited by our clinicians"


@pytest.mark.django_db
class TestUpdates:
    def test_a_changed_file_updates_and_bumps_the_revision(self, tmp_path):
        load()
        data = bundled()
        data["procedures"][4]["recovery"] = "Rest for a week."
        load(str(write(tmp_path, data)))
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        assert procedure.recovery == "Rest for a week."
        assert procedure.revision == 2
        assert Procedure.objects.get(slug="lumbar-fusion-l5-s1").revision == 1

    def test_it_reorders_and_removes_risks(self, tmp_path):
        load()
        data = bundled()
        risks = data["procedures"][4]["risks"]
        data["procedures"][4]["risks"] = [risks[2], risks[0]]
        load(str(write(tmp_path, data)))
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        assert [i.title for i in procedure.items.all()] == [risks[2]["title"], risks[0]["title"]]
        assert [i.order for i in procedure.items.all()] == [1, 2]


@pytest.mark.django_db
class TestBadFiles:
    def assert_refused(self, tmp_path, data, *fragments):
        with pytest.raises(CommandError) as excinfo:
            load(str(write(tmp_path, data)))
        message = str(excinfo.value)
        for fragment in fragments:
            assert fragment in message
        assert "nothing was imported" in message
        assert Procedure.objects.count() == 0
        assert ConsentItem.objects.count() == 0

    def test_a_missing_field_names_the_procedure_and_field(self, tmp_path):
        data = bundled()
        del data["procedures"][1]["recovery"]
        self.assert_refused(
            tmp_path, data, 'procedure #2 "lumbar-fusion-l4-l5-s1"', 'field "recovery" is missing'
        )

    def test_an_unknown_severity_names_the_risk(self, tmp_path):
        data = bundled()
        data["procedures"][4]["risks"][1]["severity"] = "sometimes"
        self.assert_refused(
            tmp_path,
            data,
            '"lumbar-rhizotomy"',
            'risk 2 ("Infection")',
            'unknown value "sometimes"',
            "common, uncommon, rare_serious",
        )

    def test_a_duplicate_slug_is_refused(self, tmp_path):
        data = bundled()
        data["procedures"][3]["slug"] = "lumbar-fusion-l5-s1"
        self.assert_refused(
            tmp_path, data, 'procedure #4 "lumbar-fusion-l5-s1"', "duplicates procedure #1"
        )

    def test_a_good_procedure_before_a_bad_one_is_not_imported(self, tmp_path):
        data = bundled()
        data["procedures"][4]["risks"] = []
        self.assert_refused(tmp_path, data, '"lumbar-rhizotomy"', 'field "risks"')

    def test_a_misspelt_field_is_refused(self, tmp_path):
        data = bundled()
        data["procedures"][0]["risks"][0]["severty"] = "common"
        self.assert_refused(tmp_path, data, 'unknown field "severty"')

    def test_a_duplicate_risk_title_is_refused(self, tmp_path):
        data = bundled()
        data["procedures"][0]["risks"].append(data["procedures"][0]["risks"][0])
        self.assert_refused(tmp_path, data, "risk titles must be unique")

    @pytest.mark.parametrize(
        ("breakage", "message"),
        [
            pytest.param(
                lambda d: d["procedures"][0].update(name=["a", "list"]),
                'field "name" must be text, not list',
                id="text-of-the-wrong-type",
            ),
            pytest.param(
                lambda d: d["procedures"][0].update(summary="   "),
                'field "summary" is empty',
                id="empty-text",
            ),
            pytest.param(
                lambda d: d["procedures"][0].update(site="L" * 101),
                'field "site" is 101 characters long (at most 100)',
                id="text-too-long",
            ),
            pytest.param(
                lambda d: d["procedures"][0].update(active="yes please"),
                "field \"active\" must be true or false, not 'yes please'",
                id="flag-not-a-boolean",
            ),
            pytest.param(
                lambda d: d["procedures"][0].update(slug="Lumbar Fusion"),
                'field "slug" may hold only lower-case letters',
                id="slug-with-capitals-and-spaces",
            ),
            pytest.param(
                lambda d: d["procedures"].append("just a string"),
                "procedure #6: must be a mapping of fields",
                id="procedure-not-a-mapping",
            ),
            pytest.param(
                lambda d: d["procedures"][0]["risks"].append(["not", "a", "risk"]),
                "risk 11: must be a mapping of fields",
                id="risk-not-a-mapping",
            ),
            pytest.param(
                lambda d: d["procedures"][0]["risks"][0].update(frequency=5),
                'field "frequency" must be text, not int',
                id="frequency-not-text",
            ),
            pytest.param(
                lambda d: d["procedures"][0]["risks"][0].update(frequency="x" * 101),
                'field "frequency" is longer than 100 characters',
                id="frequency-too-long",
            ),
            pytest.param(
                lambda d: d["procedures"][0]["risks"][0].update(required="no"),
                "field \"required\" must be true or false, not 'no'",
                id="risk-flag-not-a-boolean",
            ),
        ],
    )
    def test_each_problem_is_named(self, tmp_path, breakage, message):
        data = bundled()
        breakage(data)
        self.assert_refused(tmp_path, data, message)

    def test_many_problems_are_listed_twenty_at_a_time(self, tmp_path):
        data = bundled()
        for procedure in data["procedures"]:
            for key in ("summary", "benefits", "recovery", "alternatives", "no_surgery"):
                procedure[key] = ""
        self.assert_refused(tmp_path, data, "25 problem(s)", "... and 5 more")
        with pytest.raises(CommandError) as refused:
            load(str(write(tmp_path, data)))
        assert str(refused.value).count("is empty") == 20

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            pytest.param("- a list\n", 'a mapping with a "procedures" list', id="not-a-mapping"),
            pytest.param("format: 1\n", 'a mapping with a "procedures" list', id="no-procedures"),
            pytest.param(
                "format: 1\nprocedures: []\nextra: 1\n",
                "unknown top-level field(s) extra",
                id="unknown-top-level-field",
            ),
            pytest.param(
                "format: 2\nprocedures: []\n", 'field "format" must be 1, not 2', id="format-2"
            ),
        ],
    )
    def test_a_file_of_the_wrong_shape_is_refused(self, tmp_path, text, message):
        path = tmp_path / "library.yaml"
        path.write_text(text)
        with pytest.raises(CommandError) as refused:
            load(str(path))
        assert message in str(refused.value)
        assert not Procedure.objects.exists()

    def test_invalid_yaml_is_refused(self, tmp_path):
        path = tmp_path / "broken.yaml"
        path.write_text("format: 1\nprocedures: [\n")
        with pytest.raises(CommandError, match="not valid YAML"):
            load(str(path))

    def test_a_missing_file_is_refused(self, tmp_path):
        with pytest.raises(CommandError, match="cannot be read"):
            load(str(tmp_path / "nope.yaml"))


@pytest.mark.django_db
class TestExport:
    def test_export_then_import_round_trips(self, tmp_path):
        load()
        exported = tmp_path / "export.yaml"
        call_command("export_procedures", "--output", str(exported), stdout=StringIO())
        snapshot = {p.slug: (p.content(), p.content_sha256) for p in Procedure.objects.all()}

        Procedure.objects.all().delete()
        load(str(exported))
        assert {p.slug: (p.content(), p.content_sha256) for p in Procedure.objects.all()} == (
            snapshot
        )
        # And a second export is identical to the first.
        assert export_library() == exported.read_text()

    def test_export_to_stdout(self):
        load()
        out = StringIO()
        call_command("export_procedures", stdout=out)
        data = yaml.safe_load(out.getvalue())
        assert data["format"] == 1
        assert len(data["procedures"]) == 5
