from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from procedures.library import (
    BUNDLED_LIBRARY,
    LibraryError,
    export_library,
    load_library,
    parse_library,
)
from procedures.models import ConsentItem, Procedure, Section, UnderstandingCheck

ROOT = Path(__file__).resolve().parent.parent

EXPECTED_RISKS = {
    "lumbar-fusion-l5-s1": 11,
    "lumbar-fusion-l4-l5-s1": 13,
    "lumbar-fusion-l3-s1": 11,
    "low-back-fusion": 11,
    "lumbar-rhizotomy": 6,
}


def bundled() -> dict:
    """The bundled library as data. The four fusions share their common risks and checks (YAML
    anchors): changing one of those changes it in all four."""
    return yaml.safe_load(BUNDLED_LIBRARY.read_text())


def rhizotomy(data: dict) -> dict:
    """The one bundled procedure that shares nothing with the others."""
    procedure = data["procedures"][4]
    assert procedure["slug"] == "lumbar-rhizotomy"
    return procedure


# The risk numbers the fusions carry (from the issue, for clinical review).
UK_SOURCE = "published patient information from a UK spinal surgeon"
FUSION_NUMBERS = {
    "A tear in the sac around the nerves": (20, "About 1 in 20"),
    "Infection": (50, "About 1 in 50"),
    "Damage to a nerve": (60, "About 1 in 60"),
    "The bones do not join (non-union)": (6, "About 1 in 6"),
    "Problems with the screws, rods or cages": (100, "About 1 in 100"),
}


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
        items_before = list(ConsentItem.objects.values_list("pk", "order", "title", "one_in"))
        checks_before = list(UnderstandingCheck.objects.values_list("pk", "order", "question"))
        out = load()
        assert "0 were created, 0 updated, 5 unchanged" in out
        assert list(Procedure.objects.values_list("slug", "revision", "content_sha256")) == before
        assert (
            list(ConsentItem.objects.values_list("pk", "order", "title", "one_in")) == items_before
        )
        assert (
            list(UnderstandingCheck.objects.values_list("pk", "order", "question")) == checks_before
        )

    def test_verbose_output_names_each_procedure_and_what_happened(self):
        load()
        out = StringIO()
        call_command("load_procedures", "--dry-run", stdout=out, verbosity=2)
        for slug in EXPECTED_RISKS:
            assert f"  unchanged: {slug}\n" in out.getvalue()

    def test_every_procedure_has_at_least_three_checks_about_risks_and_the_choices(self):
        load()
        for procedure in Procedure.objects.all():
            checks = list(procedure.understanding_checks.all())
            assert len(checks) >= 3, procedure.slug
            assert [check.order for check in checks] == list(range(1, len(checks) + 1))
            sections = {check.section for check in checks}
            # Its material risks, the other treatments, and doing nothing (issue 11).
            assert {Section.ALTERNATIVES, Section.NO_SURGERY} <= sections, procedure.slug
            assert any(check.risk_title for check in checks), procedure.slug

    def test_every_check_names_a_risk_of_its_procedure_or_a_section(self):
        load()
        for check in UnderstandingCheck.objects.select_related("procedure"):
            titles = set(check.procedure.items.values_list("title", flat=True))
            assert (check.risk_title in titles) != (check.section in Section.values), check
            check.full_clean()  # and the model agrees: 1 to 4 wrong answers, all different

    def test_every_check_offers_a_fair_choice(self):
        for procedure in bundled()["procedures"]:
            for check in procedure["understanding_checks"]:
                options = [check["answer"], *check["wrong"]]
                assert len({option.casefold() for option in options}) == len(options)
                assert not any("all of the above" in option.lower() for option in options)
                assert not any("none of the above" in option.lower() for option in options)

    def test_the_fusions_carry_the_five_numbers_with_their_source(self):
        load()
        fusions = Procedure.objects.exclude(slug="lumbar-rhizotomy")
        assert fusions.count() == 4
        for fusion in fusions:
            numbered = {
                item.title: (item.one_in, item.frequency)
                for item in fusion.items.exclude(one_in=None)
            }
            assert numbered == FUSION_NUMBERS, fusion.slug
            sources = {item.rate_source for item in fusion.items.exclude(one_in=None)}
            assert sources == {UK_SOURCE}
            assert not fusion.items.exclude(per_1000=None).exists()
        # The rhizotomy has no published numbers in the starter library.
        rhizotomy = Procedure.objects.get(slug="lumbar-rhizotomy")
        assert not rhizotomy.items.exclude(one_in=None).exists()

    def test_the_header_marks_the_numbers_and_checks_for_clinical_review(self):
        header = BUNDLED_LIBRARY.read_text().split("\nformat:", 1)[0]
        assert "NEED CLINICAL REVIEW" in header
        assert UK_SOURCE in header
        assert "Understanding checks" in header

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
        # Checks must name a risk of the procedure: keep those about a section.
        checks = data["procedures"][4]["understanding_checks"]
        data["procedures"][4]["understanding_checks"] = [c for c in checks if "section" in c]
        load(str(write(tmp_path, data)))
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        assert [i.title for i in procedure.items.all()] == [risks[2]["title"], risks[0]["title"]]
        assert [i.order for i in procedure.items.all()] == [1, 2]

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param(lambda c: c.update(question="What is the main risk?"), id="question"),
            pytest.param(lambda c: c.update(answer="Numbness in a leg"), id="answer"),
            pytest.param(lambda c: c["wrong"].append("A cold"), id="wrong-added"),
            pytest.param(lambda c: c["wrong"].reverse(), id="wrong-reordered"),
            pytest.param(lambda c: c.update(explanation="Because."), id="explanation"),
            pytest.param(lambda c: c.update(risk="Infection"), id="risk"),
            pytest.param(
                lambda c: (c.pop("risk"), c.update(section="summary")), id="risk-to-section"
            ),
        ],
    )
    def test_a_changed_check_bumps_the_revision(self, tmp_path, change):
        load()
        data = bundled()
        change(rhizotomy(data)["understanding_checks"][0])
        report = load_library(parse_library(yaml.safe_dump(data)))
        assert report.updated == ["lumbar-rhizotomy"]
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        assert procedure.revision == 2
        first = procedure.understanding_checks.get(order=1)
        expected = rhizotomy(data)["understanding_checks"][0]
        assert first.question == expected["question"]
        assert first.wrong_answer_list == expected["wrong"]
        assert (first.risk_title, first.section) == (
            expected.get("risk", ""),
            expected.get("section", ""),
        )

    def test_checks_are_replaced_to_match_the_file_in_its_order(self, tmp_path):
        load()
        data = bundled()
        checks = rhizotomy(data)["understanding_checks"]
        rhizotomy(data)["understanding_checks"] = [checks[3], checks[1]]
        load(str(write(tmp_path, data)))
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        assert procedure.revision == 2
        assert [(c.order, c.question) for c in procedure.understanding_checks.all()] == [
            (1, checks[3]["question"]),
            (2, checks[1]["question"]),
        ]
        # The fusions were not touched.
        assert UnderstandingCheck.objects.exclude(procedure=procedure).count() == 17

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param({"one_in": 21}, id="one-in-changed"),
            pytest.param({"one_in": None, "per_1000": 50}, id="one-in-to-per-1000"),
            pytest.param({"rate_source": "Our own audit, 2025"}, id="source"),
            pytest.param({"one_in": None, "rate_source": None}, id="number-removed"),
        ],
    )
    def test_a_changed_number_bumps_the_revision(self, tmp_path, change):
        load()
        data = bundled()
        # The shared tear risk: all four fusions change together.
        tear = data["procedures"][0]["risks"][2]
        assert tear["title"] == "A tear in the sac around the nerves"
        tear.update(change)
        report = load_library(parse_library(yaml.safe_dump(data)))
        assert sorted(report.updated) == sorted(s for s in EXPECTED_RISKS if "fusion" in s)
        item = ConsentItem.objects.get(
            procedure__slug="low-back-fusion", title="A tear in the sac around the nerves"
        )
        assert item.procedure.revision == 2
        assert item.one_in == tear.get("one_in")
        assert item.per_1000 == tear.get("per_1000")
        assert item.rate_source == (tear.get("rate_source") or "")


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
                "risk 12: must be a mapping of fields",
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

    @pytest.mark.parametrize(
        ("checks", "message"),
        [
            pytest.param(None, 'field "understanding_checks" is missing', id="missing"),
            pytest.param([], 'field "understanding_checks" is empty', id="empty"),
        ],
    )
    def test_a_procedure_without_checks_is_refused_by_name(self, tmp_path, checks, message):
        data = bundled()
        rhizotomy(data)["understanding_checks"] = checks
        self.assert_refused(
            tmp_path,
            data,
            f'procedure #5 "lumbar-rhizotomy": {message}',
            "every procedure needs at least one check of understanding",
        )

    def test_a_check_naming_an_unknown_risk_is_refused_naming_it(self, tmp_path):
        data = bundled()
        rhizotomy(data)["understanding_checks"][1]["risk"] = "Stroke"
        self.assert_refused(
            tmp_path,
            data,
            '"lumbar-rhizotomy", check 2: field "risk" names "Stroke", '
            'but no risk of this procedure is titled "Stroke"',
        )

    def test_a_risk_of_another_procedure_is_unknown_with_a_hint(self, tmp_path):
        data = bundled()
        # A fusion risk, not one of the rhizotomy's; close to one of its own.
        rhizotomy(data)["understanding_checks"][0]["risk"] = "Damage to a nerve"
        self.assert_refused(
            tmp_path,
            data,
            'no risk of this procedure is titled "Damage to a nerve" '
            '(did you mean "Damage to other nerves"?)',
        )

    def test_a_check_about_a_removed_risk_is_refused(self, tmp_path):
        data = bundled()
        rhizotomy(data)["risks"] = rhizotomy(data)["risks"][1:]
        self.assert_refused(tmp_path, data, 'check 1: field "risk" names "Damage to other nerves"')

    @pytest.mark.parametrize(
        ("breakage", "message"),
        [
            pytest.param(
                lambda c: c.update(section="alternatives"),
                'check 1: give either "risk" or "section", not both',
                id="risk-and-section",
            ),
            pytest.param(
                lambda c: c.pop("risk"),
                'check 1: field "risk" or "section" is missing',
                id="neither-risk-nor-section",
            ),
            pytest.param(
                lambda c: (c.pop("risk"), c.update(section="risks")),
                'check 1: field "section" has unknown value "risks" (use one of: summary, '
                "what_happens, benefits, alternatives, no_surgery, recovery)",
                id="unknown-section",
            ),
            pytest.param(
                lambda c: c.update(risk=""), 'check 1: field "risk" is empty', id="empty-risk"
            ),
            pytest.param(
                lambda c: c.pop("question"), 'check 1: field "question" is missing', id="no-q"
            ),
            pytest.param(
                lambda c: c.update(answer="  "), 'check 1: field "answer" is empty', id="blank"
            ),
            pytest.param(
                lambda c: c.update(explanation=None),
                'check 1: field "explanation" is missing',
                id="explanation-null",
            ),
            pytest.param(
                lambda c: c.update(question=7),
                'check 1: field "question" must be text, not int',
                id="question-not-text",
            ),
            pytest.param(
                lambda c: c.update(answer="a" * 301),
                'check 1: field "answer" is 301 characters long (at most 300)',
                id="answer-too-long",
            ),
            pytest.param(
                lambda c: c.update(question="Why? " * 201),
                'check 1: field "question" is 1004 characters long (at most 1000)',
                id="question-too-long",
            ),
            pytest.param(
                lambda c: c.update(explanation="Because. " * 112),
                'check 1: field "explanation" is 1007 characters long (at most 1000)',
                id="explanation-too-long",
            ),
            pytest.param(
                lambda c: c.update(answer="Numbness\nor weakness"),
                'check 1: field "answer" must be on one line',
                id="answer-two-lines",
            ),
            pytest.param(
                lambda c: c.update(hint="Think of the legs"),
                'check 1: unknown field "hint" (allowed: answer, explanation, question, risk, '
                "section, wrong)",
                id="unknown-field",
            ),
            pytest.param(
                lambda c: c.pop("wrong"), 'check 1: field "wrong" is missing', id="no-wrong"
            ),
            pytest.param(
                lambda c: c.update(wrong="Nothing happens"),
                'check 1: field "wrong" must be a list of 1 to 4 wrong answers',
                id="wrong-not-a-list",
            ),
            pytest.param(
                lambda c: c.update(wrong=[]),
                'check 1: field "wrong" must be a list of 1 to 4 wrong answers',
                id="no-wrong-answers",
            ),
            pytest.param(
                lambda c: c.update(wrong=["A", "B", "C", "D", "E"]),
                'check 1: field "wrong" must be a list of 1 to 4 wrong answers',
                id="five-wrong-answers",
            ),
            pytest.param(
                lambda c: c.update(wrong=["Nothing", 3]),
                "check 1: wrong answer 2 must be text, not int",
                id="wrong-answer-not-text",
            ),
            pytest.param(
                lambda c: c.update(wrong=[False]),
                "check 1: wrong answer 1 must be text, not bool (YAML reads a bare yes, no",
                id="wrong-answer-a-bare-no",
            ),
            pytest.param(
                lambda c: c.update(answer=True),
                'check 1: field "answer" must be text, not bool (YAML reads a bare yes, no',
                id="answer-a-bare-yes",
            ),
            pytest.param(
                lambda c: c.update(wrong=["Nothing", " "]),
                "check 1: wrong answer 2 is empty",
                id="wrong-answer-empty",
            ),
            pytest.param(
                lambda c: c.update(wrong=["w" * 301]),
                "check 1: wrong answer 1 is 301 characters long (at most 300)",
                id="wrong-answer-too-long",
            ),
            pytest.param(
                lambda c: c.update(wrong=["Nothing\nat all"]),
                "check 1: wrong answer 1 must be on one line",
                id="wrong-answer-two-lines",
            ),
            pytest.param(
                lambda c: c.update(wrong=["Nothing", "A cold", "nothing "]),
                "check 1: wrong answer 3 is the same as wrong answer 1",
                id="wrong-answers-repeat",
            ),
            pytest.param(
                lambda c: c["wrong"].append(c["answer"].upper()),
                "check 1: wrong answer 3 is the same as the right answer",
                id="wrong-answer-is-the-answer",
            ),
            pytest.param(
                lambda c: c.update(question="Will this procedure take away your pain for good?"),
                'check 2: field "question" repeats check 1 (questions must be unique',
                id="question-repeated",
            ),
        ],
    )
    def test_each_check_problem_is_named(self, tmp_path, breakage, message):
        data = bundled()
        breakage(rhizotomy(data)["understanding_checks"][0])
        self.assert_refused(tmp_path, data, f'procedure #5 "lumbar-rhizotomy", {message}')

    @pytest.mark.parametrize(
        ("checks", "message"),
        [
            pytest.param("Ask about nerves", "must be a list of checks", id="not-a-list"),
            pytest.param(["Ask about nerves"], "check 1: must be a mapping", id="not-a-mapping"),
        ],
    )
    def test_checks_of_the_wrong_shape_are_refused(self, tmp_path, checks, message):
        data = bundled()
        rhizotomy(data)["understanding_checks"] = checks
        self.assert_refused(tmp_path, data, message)

    @pytest.mark.parametrize(
        ("rate", "message"),
        [
            pytest.param(
                {"one_in": "20"},
                "field \"one_in\" must be a whole number, such as 20 for about 1 in 20, not '20'",
                id="one-in-text",
            ),
            pytest.param(
                {"one_in": "1 in 20"}, 'field "one_in" must be a whole number', id="one-in-words"
            ),
            pytest.param(
                {"one_in": True}, 'field "one_in" must be a whole number', id="one-in-boolean"
            ),
            pytest.param(
                {"one_in": 20.5}, 'field "one_in" must be a whole number', id="one-in-fraction"
            ),
            pytest.param(
                {"one_in": 0},
                'field "one_in" must be between 1 and 1,000,000, not 0',
                id="one-in-zero",
            ),
            pytest.param(
                {"one_in": -5},
                'field "one_in" must be between 1 and 1,000,000, not -5',
                id="one-in-negative",
            ),
            pytest.param({"one_in": 10**12}, 'field "one_in" must be between 1', id="one-in-huge"),
            pytest.param(
                {"per_1000": "50"},
                "field \"per_1000\" must be a number, such as 50 for 50 in 1,000 people, not '50'",
                id="per-1000-text",
            ),
            pytest.param(
                {"per_1000": False}, 'field "per_1000" must be a number', id="per-1000-boolean"
            ),
            pytest.param(
                {"per_1000": float("nan")},
                'field "per_1000" must be a number, such as 50 for 50 in 1,000 people, not nan',
                id="per-1000-nan",
            ),
            pytest.param(
                {"per_1000": float("inf")}, 'field "per_1000" must be a number', id="per-1000-inf"
            ),
            pytest.param(
                {"per_1000": 0},
                'field "per_1000" must be more than 0 and at most 1000, not 0',
                id="per-1000-zero",
            ),
            pytest.param(
                {"per_1000": -1.5},
                'field "per_1000" must be more than 0 and at most 1000, not -1.5',
                id="per-1000-negative",
            ),
            pytest.param(
                {"per_1000": 1000.5},
                'field "per_1000" must be more than 0 and at most 1000, not 1000.5',
                id="per-1000-over-1000",
            ),
            pytest.param(
                {"per_1000": 0.0005},
                'field "per_1000" may have at most 3 decimal places, not 0.0005',
                id="per-1000-four-decimals",
            ),
            pytest.param(
                {"one_in": 20, "per_1000": 50},
                'give the number as "one_in" or as "per_1000", not both',
                id="both",
            ),
            pytest.param(
                {"rate_source": ["a", "study"]},
                'field "rate_source" must be text, not list',
                id="source-not-text",
            ),
            pytest.param(
                {"rate_source": "s" * 301},
                'field "rate_source" is longer than 300 characters',
                id="source-too-long",
            ),
            pytest.param(
                {"one_in_1000": 5},
                'unknown field "one_in_1000"',
                id="misspelt",
            ),
        ],
    )
    def test_each_number_problem_is_named(self, tmp_path, rate, message):
        data = bundled()
        rhizotomy(data)["risks"][1].update(rate)
        self.assert_refused(tmp_path, data, 'procedure #5 "lumbar-rhizotomy", risk 2', message)

    @pytest.mark.parametrize(
        ("rate", "one_in", "per_1000"),
        [
            ({"one_in": 1}, 1, None),
            ({"one_in": 1_000_000}, 1_000_000, None),
            ({"per_1000": 1000}, None, Decimal("1000")),
            ({"per_1000": 0.001}, None, Decimal("0.001")),
            ({"per_1000": 12.5}, None, Decimal("12.5")),
            ({"one_in": None, "per_1000": None}, None, None),
        ],
    )
    def test_numbers_at_the_limits_are_accepted(self, rate, one_in, per_1000):
        data = bundled()
        rhizotomy(data)["risks"][1].update(rate)
        load_library(parse_library(yaml.safe_dump(data)))
        item = ConsentItem.objects.get(procedure__slug="lumbar-rhizotomy", title="Infection")
        assert (item.one_in, item.per_1000) == (one_in, per_1000)

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

    def test_export_writes_the_checks_and_the_numbers(self):
        load()
        exported = {p["slug"]: p for p in yaml.safe_load(export_library())["procedures"]}
        source = {p["slug"]: p for p in bundled()["procedures"]}
        for slug, procedure in exported.items():
            assert procedure["understanding_checks"] == source[slug]["understanding_checks"]
        tear, bleeding = (
            exported["low-back-fusion"]["risks"][2],
            exported["low-back-fusion"]["risks"][7],
        )
        assert (tear["one_in"], tear["rate_source"]) == (20, UK_SOURCE)
        # Only when set: a risk without a number exports as it did before numbers existed.
        assert bleeding["title"] == "Bleeding"
        assert not {"one_in", "per_1000", "rate_source"} & set(bleeding)

    @pytest.mark.parametrize(
        ("per_1000", "written"),
        [(50, "per_1000: 50\n"), (12.5, "per_1000: 12.5\n"), (0.125, "per_1000: 0.125\n")],
    )
    def test_a_number_per_1000_round_trips_as_a_plain_number(self, per_1000, written):
        data = bundled()
        rhizotomy(data)["risks"][1].update(per_1000=per_1000, rate_source="Local audit")
        load_library(parse_library(yaml.safe_dump(data)))
        item = ConsentItem.objects.get(procedure__slug="lumbar-rhizotomy", title="Infection")
        assert item.per_1000 == Decimal(str(per_1000))
        text = export_library()
        assert written in text
        again = load_library(parse_library(text))
        assert sorted(again.unchanged) == sorted(EXPECTED_RISKS)
        assert export_library() == text

    def test_loading_an_export_changes_nothing(self):
        load()
        report = load_library(parse_library(export_library()))
        assert report.created == report.updated == []
        assert len(report.unchanged) == 5


class TestDocumentedExample:
    def example(self) -> str:
        """The first YAML block of docs/library-format.md: the whole format at a glance."""
        text = (ROOT / "docs" / "library-format.md").read_text()
        return text.split("```yaml\n", 1)[1].split("```", 1)[0]

    def test_the_documented_example_is_a_valid_library(self):
        [procedure] = parse_library(self.example(), source="docs/library-format.md")
        assert procedure.checks[0].risk_title == "Damage to a nerve"
        assert procedure.checks[1].section == "alternatives"
        assert {risk.title: risk.one_in for risk in procedure.risks} == {
            "Damage to a nerve": 100,
            "Infection": None,
        }
        assert procedure.risks[1].per_1000 == Decimal(20)

    def test_the_example_without_its_checks_is_refused(self):
        example = self.example().split("    understanding_checks:", 1)[0]
        with pytest.raises(LibraryError, match='field "understanding_checks" is missing'):
            parse_library(example)
