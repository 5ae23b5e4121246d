"""Read, validate, load and export the procedure library as a YAML data file.

The format is documented in docs/library-format.md. Loading validates the whole file first and
writes inside one transaction, so a bad file imports nothing.
"""

import difflib
import math
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml
from django.db import transaction

from .models import AsksFor, ConsentItem, Procedure, Section, Severity, UnderstandingCheck
from .services import procedure_refresh_revision

BUNDLED_LIBRARY = Path(__file__).resolve().parent / "library" / "starter_library.yaml"
FORMAT_VERSION = 1

PROCEDURE_TEXT = {  # file key -> max length (None: no limit)
    "slug": 100,
    "name": 200,
    "site": 100,
    "summary": None,
    "what_happens": None,
    "benefits": None,
    "alternatives": None,
    "no_surgery": None,
    "recovery": None,
}
PROCEDURE_FLAGS = {"active": True, "needs_clinical_review": True}
# What the file's asks_for list may hold, and the value each set of words stands for.
ASKS_FOR_WORDS = {
    frozenset(): AsksFor.NOTHING,
    frozenset({"levels"}): AsksFor.LEVELS,
    frozenset({"side"}): AsksFor.SIDE,
    frozenset({"levels", "side"}): AsksFor.LEVELS_AND_SIDE,
}
RISK_TEXT = {"title": 200, "explanation": None, "severity": 20}
RISK_OPTIONAL_TEXT = {"frequency": 100}
RISK_FLAGS = {"required": True}
RISK_RATE_FIELDS = ("one_in", "per_1000", "rate_source")
RATE_SOURCE_MAX = 300
# A bound no real risk comes near, well inside what the database column holds.
ONE_IN_MAX = 1_000_000
CHECK_TEXT = {"question": 1000, "answer": 300, "explanation": 1000}
CHECK_KEYS = {*CHECK_TEXT, "risk", "section", "wrong"}
WRONG_ANSWERS_MAX = 4
SLUG_RE = re.compile(r"^[-a-z0-9_]+$")


class LibraryError(Exception):
    """A library file that cannot be loaded; the message names what is wrong and where."""


@dataclass
class RiskSpec:
    title: str
    explanation: str
    severity: str
    frequency: str = ""
    required: bool = True
    one_in: int | None = None
    per_1000: Decimal | None = None
    rate_source: str = ""


@dataclass
class CheckSpec:
    """An understanding check: about one risk (by title) or one section, never both."""

    question: str
    answer: str
    wrong_answers: list[str]
    explanation: str
    risk_title: str = ""
    section: str = ""

    def model(self, order: int, procedure: Procedure | None = None) -> UnderstandingCheck:
        return UnderstandingCheck(
            procedure=procedure,
            order=order,
            question=self.question,
            risk_title=self.risk_title,
            section=self.section,
            answer=self.answer,
            wrong_answers="\n".join(self.wrong_answers),
            explanation=self.explanation,
        )


@dataclass
class ProcedureSpec:
    slug: str
    name: str
    site: str
    summary: str
    what_happens: str
    benefits: str
    alternatives: str
    no_surgery: str
    recovery: str
    active: bool = True
    needs_clinical_review: bool = True
    asks_for: str = AsksFor.NOTHING
    risks: list[RiskSpec] = field(default_factory=list)
    checks: list[CheckSpec] = field(default_factory=list)


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _text(data: dict, key: str, max_length: int | None, where: str, errors: list[str]) -> str:
    if key not in data or data[key] is None:
        errors.append(f'{where}: field "{key}" is missing')
        return ""
    value = data[key]
    if not isinstance(value, str):
        errors.append(f'{where}: field "{key}" must be text, not {_kind(value)}')
        return ""
    value = value.strip()
    unprintable = next((char for char in value if _unprintable(char)), None)
    if not value:
        errors.append(f'{where}: field "{key}" is empty')
    elif unprintable is not None:
        # A right answer with a NUL could never be chosen (browsers and Django refuse it), and
        # every such character is a missing glyph in the sealed PDF, which PDF/A refuses.
        errors.append(
            f'{where}: field "{key}" holds a character that cannot be printed '
            f"(U+{ord(unprintable):04X})"
        )
    elif max_length and len(value) > max_length:
        errors.append(
            f'{where}: field "{key}" is {len(value)} characters long (at most {max_length})'
        )
    return value


def _unprintable(char: str) -> bool:
    """A control character (but tab and line breaks), a private-use, unassigned or surrogate
    code point, or a non-character."""
    if char in "\t\n\r":
        return False
    code = ord(char)
    return (
        unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn")
        or 0xFDD0 <= code <= 0xFDEF
        or (code & 0xFFFE) == 0xFFFE
    )


def _kind(value) -> str:
    """The type of a value that should have been text, with a hint for YAML's yes and no."""
    if isinstance(value, bool):
        return "bool (YAML reads a bare yes, no, true or false so: put the text in quotes)"
    return type(value).__name__


def _flag(data: dict, key: str, default: bool, where: str, errors: list[str]) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        errors.append(f'{where}: field "{key}" must be true or false, not {value!r}')
        return default
    return value


def _unknown_keys(data: dict, allowed: set[str], where: str, errors: list[str]) -> None:
    for key in sorted(set(data) - allowed, key=str):
        errors.append(f'{where}: unknown field "{key}" (allowed: {", ".join(sorted(allowed))})')


def _asks_for(data: dict, where: str, errors: list[str]) -> str:
    """asks_for: a list of "levels" and/or "side" (one word alone is taken as a list)."""
    value = data.get("asks_for")
    words = [] if value is None else [value] if isinstance(value, str) else value
    if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
        errors.append(f'{where}: field "asks_for" must be a list of "levels" and "side"')
        return AsksFor.NOTHING
    found = ASKS_FOR_WORDS.get(frozenset(words))
    if found is None or len(set(words)) != len(words):
        errors.append(
            f'{where}: field "asks_for" may hold only "levels" and "side", once each, not {value!r}'
        )
        return AsksFor.NOTHING
    return found


def _parse_risk(data, where: str, errors: list[str]) -> RiskSpec | None:
    if not isinstance(data, dict):
        errors.append(f"{where}: must be a mapping of fields")
        return None
    allowed = set(RISK_TEXT) | set(RISK_OPTIONAL_TEXT) | set(RISK_FLAGS) | set(RISK_RATE_FIELDS)
    _unknown_keys(data, allowed, where, errors)
    title = data.get("title")
    if isinstance(title, str) and title.strip():
        where = f'{where} ("{title.strip()}")'
    values = {key: _text(data, key, limit, where, errors) for key, limit in RISK_TEXT.items()}
    if values["severity"] and values["severity"] not in Severity.values:
        errors.append(
            f'{where}: field "severity" has unknown value "{values["severity"]}" '
            f"(use one of: {', '.join(Severity.values)})"
        )
    for key, limit in RISK_OPTIONAL_TEXT.items():
        value = data.get(key) or ""
        if not isinstance(value, str):
            errors.append(f'{where}: field "{key}" must be text, not {type(value).__name__}')
            value = ""
        elif len(value.strip()) > limit:
            errors.append(f'{where}: field "{key}" is longer than {limit} characters')
        values[key] = value.strip()
    for key, default in RISK_FLAGS.items():
        values[key] = _flag(data, key, default, where, errors)
    return RiskSpec(**values, **_parse_rate(data, where, errors))


def _parse_rate(data: dict, where: str, errors: list[str]) -> dict:
    """A risk's frequency as a number: one_in (1 in N) or per_1000, never both; its source."""
    one_in = _one_in(data.get("one_in"), where, errors)
    per_1000 = _per_1000(data.get("per_1000"), where, errors)
    if data.get("one_in") is not None and data.get("per_1000") is not None:
        errors.append(
            f'{where}: give the number as "one_in" or as "per_1000", not both '
            "(they would say the same thing twice, and could disagree)"
        )
    source = data.get("rate_source") or ""
    if not isinstance(source, str):
        errors.append(f'{where}: field "rate_source" must be text, not {type(source).__name__}')
        source = ""
    elif len(source.strip()) > RATE_SOURCE_MAX:
        errors.append(f'{where}: field "rate_source" is longer than {RATE_SOURCE_MAX} characters')
    return {"one_in": one_in, "per_1000": per_1000, "rate_source": source.strip()}


def _one_in(value, where: str, errors: list[str]) -> int | None:
    if value is None:
        return None
    # bool is a kind of int in Python: "one_in: yes" must not read as 1 in 1.
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(
            f'{where}: field "one_in" must be a whole number, such as 20 for about 1 in 20, '
            f"not {value!r}"
        )
        return None
    if not 1 <= value <= ONE_IN_MAX:
        errors.append(f'{where}: field "one_in" must be between 1 and {ONE_IN_MAX:,}, not {value}')
        return None
    return value


def _per_1000(value, where: str, errors: list[str]) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors.append(
            f'{where}: field "per_1000" must be a number, such as 50 for 50 in 1,000 people, '
            f"not {value!r}"
        )
        return None
    number = Decimal(str(value))  # str: 0.1 stays 0.1, not the float's long binary tail
    if not 0 < number <= 1000:
        errors.append(
            f'{where}: field "per_1000" must be more than 0 and at most 1000, not {value}'
        )
        return None
    if number.normalize().as_tuple().exponent < -3:
        errors.append(
            f'{where}: field "per_1000" may have at most 3 decimal places, not {value} '
            '(for a rarer risk use "one_in")'
        )
        return None
    return number


def _parse_checks(data, where: str, risk_titles: set[str], errors: list[str]) -> list[CheckSpec]:
    if data is None or data == []:
        errors.append(
            f'{where}: field "understanding_checks" is {"missing" if data is None else "empty"}: '
            "every procedure needs at least one check of understanding, a question the patient "
            "answers after reading the risks (see docs/library-format.md)"
        )
        return []
    if not isinstance(data, list):
        errors.append(f'{where}: field "understanding_checks" must be a list of checks')
        return []
    checks: list[CheckSpec] = []
    questions: dict[str, int] = {}
    for number, check_data in enumerate(data, start=1):
        check = _parse_check(check_data, f"{where}, check {number}", risk_titles, errors)
        if check is None:
            continue
        if check.question and check.question in questions:
            errors.append(
                f'{where}, check {number}: field "question" repeats check '
                f"{questions[check.question]} (questions must be unique within a procedure)"
            )
        questions.setdefault(check.question, number)
        checks.append(check)
    return checks


def _parse_check(data, where: str, risk_titles: set[str], errors: list[str]) -> CheckSpec | None:
    if not isinstance(data, dict):
        errors.append(f"{where}: must be a mapping of fields")
        return None
    _unknown_keys(data, CHECK_KEYS, where, errors)
    values = {key: _text(data, key, limit, where, errors) for key, limit in CHECK_TEXT.items()}
    if "\n" in values["answer"]:
        errors.append(f'{where}: field "answer" must be on one line')
    risk_title, section = _check_about(data, where, risk_titles, errors)
    wrong = _wrong_answers(data.get("wrong"), values["answer"], where, errors)
    return CheckSpec(**values, wrong_answers=wrong, risk_title=risk_title, section=section)


def _check_about(data: dict, where: str, risk_titles: set[str], errors: list[str]):
    """What a check is about: (risk title, "") or ("", section)."""
    has_risk, has_section = data.get("risk") is not None, data.get("section") is not None
    if has_risk and has_section:
        errors.append(f'{where}: give either "risk" or "section", not both')
        return "", ""
    if not has_risk and not has_section:
        errors.append(
            f'{where}: field "risk" or "section" is missing: name the risk the check is about '
            "(its title) or the section (one of: " + ", ".join(Section.values) + ")"
        )
        return "", ""
    if has_section:
        section = _text(data, "section", None, where, errors)
        if section and section not in Section.values:
            errors.append(
                f'{where}: field "section" has unknown value "{section}" '
                f"(use one of: {', '.join(Section.values)})"
            )
        return "", section
    title = _text(data, "risk", RISK_TEXT["title"], where, errors)
    if title and title not in risk_titles:
        close = difflib.get_close_matches(title, risk_titles, n=1)
        errors.append(
            f'{where}: field "risk" names "{title}", but no risk of this procedure is titled '
            f'"{title}"' + (f' (did you mean "{close[0]}"?)' if close else "")
        )
    return title, ""


def _wrong_answers(value, answer: str, where: str, errors: list[str]) -> list[str]:
    """1 to 4 wrong answers, each on one line, all different from each other and the answer."""
    if value is None:
        errors.append(f'{where}: field "wrong" is missing')
        return []
    if not isinstance(value, list) or not 1 <= len(value) <= WRONG_ANSWERS_MAX:
        errors.append(
            f'{where}: field "wrong" must be a list of 1 to {WRONG_ANSWERS_MAX} wrong answers, '
            f"not {value!r}"[:300]
        )
        return []
    wrong: list[str] = []
    # Compared without case: "Infection" and "infection" read as the same choice.
    seen = {answer.casefold(): "the right answer"} if answer else {}
    for number, text in enumerate(value, start=1):
        label = f"{where}: wrong answer {number}"
        if not isinstance(text, str):
            errors.append(f"{label} must be text, not {_kind(text)}")
            continue
        text = text.strip()
        if not text:
            errors.append(f"{label} is empty")
        elif len(text) > CHECK_TEXT["answer"]:
            errors.append(
                f"{label} is {len(text)} characters long (at most {CHECK_TEXT['answer']})"
            )
        elif "\n" in text:
            errors.append(f"{label} must be on one line")
        elif text.casefold() in seen:
            errors.append(f"{label} is the same as {seen[text.casefold()]}")
        else:
            seen[text.casefold()] = f"wrong answer {number}"
        wrong.append(text)
    return wrong


def parse_library(text: str, *, source: str = "library file") -> list[ProcedureSpec]:
    """Parse and validate a whole library file. Raises LibraryError listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LibraryError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("procedures"), list):
        raise LibraryError(f'{source}: expected a mapping with a "procedures" list at the top')
    unknown = [
        k for k in data if k not in ("format", "procedures") and not str(k).startswith("shared")
    ]
    if unknown:
        raise LibraryError(
            f"{source}: unknown top-level field(s) {', '.join(map(str, unknown))} "
            '(allowed: format, procedures, and "shared..." blocks for YAML anchors)'
        )
    if data.get("format") != FORMAT_VERSION:
        raise LibraryError(
            f'{source}: field "format" must be {FORMAT_VERSION}, not {data.get("format")!r}'
        )

    errors: list[str] = []
    specs: list[ProcedureSpec] = []
    seen_slugs: dict[str, int] = {}
    for number, proc in enumerate(data["procedures"], start=1):
        where = f"procedure #{number}"
        if not isinstance(proc, dict):
            errors.append(f"{where}: must be a mapping of fields")
            continue
        if isinstance(proc.get("slug"), str):
            where = f'procedure #{number} "{proc["slug"]}"'
        allowed = set(PROCEDURE_TEXT) | set(PROCEDURE_FLAGS)
        allowed |= {"asks_for", "risks", "understanding_checks"}
        _unknown_keys(proc, allowed, where, errors)
        values = {
            key: _text(proc, key, limit, where, errors) for key, limit in PROCEDURE_TEXT.items()
        }
        slug = values["slug"]
        if slug and not SLUG_RE.match(slug):
            errors.append(
                f'{where}: field "slug" may hold only lower-case letters, digits, "-" and "_"'
            )
        if slug in seen_slugs:
            errors.append(
                f'{where}: field "slug" duplicates procedure #{seen_slugs[slug]} (slugs must be unique)'
            )
        seen_slugs.setdefault(slug, number)
        for key, default in PROCEDURE_FLAGS.items():
            values[key] = _flag(proc, key, default, where, errors)
        values["asks_for"] = _asks_for(proc, where, errors)

        risks_data = proc.get("risks")
        risks: list[RiskSpec] = []
        if not isinstance(risks_data, list) or not risks_data:
            errors.append(f'{where}: field "risks" must be a non-empty list')
        else:
            titles: set[str] = set()
            for risk_number, risk_data in enumerate(risks_data, start=1):
                risk = _parse_risk(risk_data, f"{where}, risk {risk_number}", errors)
                if risk is None:
                    continue
                if risk.title and risk.title in titles:
                    errors.append(
                        f'{where}, risk {risk_number}: field "title" repeats "{risk.title}" '
                        "(risk titles must be unique within a procedure)"
                    )
                titles.add(risk.title)
                risks.append(risk)
        checks = _parse_checks(
            proc.get("understanding_checks"), where, {risk.title for risk in risks}, errors
        )
        specs.append(ProcedureSpec(**values, risks=risks, checks=checks))

    if errors:
        shown = errors[:20]
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise LibraryError(
            f"{source}: {len(errors)} problem(s), nothing was imported:\n  "
            + "\n  ".join(shown)
            + more
        )
    return specs


def read_library_file(path: Path) -> list[ProcedureSpec]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LibraryError(f"{path}: cannot be read: {exc.strerror}") from None
    return parse_library(text, source=str(path))


def _apply(procedure: Procedure, spec: ProcedureSpec) -> None:
    for key in PROCEDURE_TEXT:
        setattr(procedure, key, getattr(spec, key))
    procedure.is_active = spec.active
    procedure.needs_clinical_review = spec.needs_clinical_review
    procedure.asks_for = spec.asks_for


def _sync_items(procedure: Procedure, risks: list[RiskSpec]) -> None:
    existing = {item.title: item for item in procedure.items.all()}
    wanted = {risk.title for risk in risks}
    procedure.items.exclude(title__in=wanted).delete()
    # Orders are unique per procedure: park the kept rows out of the way before renumbering,
    # so that reordering two risks never collides half-way.
    kept = [item for title, item in existing.items() if title in wanted]
    for item in kept:
        item.order += 10_000
    ConsentItem.objects.bulk_update(kept, ["order"])
    for order, risk in enumerate(risks, start=1):
        item = existing.get(risk.title) or ConsentItem(procedure=procedure)
        item.order = order
        for key, value in vars(risk).items():
            setattr(item, key, value)
        item.save()


def _sync_checks(procedure: Procedure, checks: list[CheckSpec]) -> None:
    """Replace the procedure's checks with the file's, in the file's order. Nothing refers to a
    library check (a consent freezes its own copy), so they are not matched up like risks."""
    procedure.understanding_checks.all().delete()
    UnderstandingCheck.objects.bulk_create(
        check.model(order, procedure) for order, check in enumerate(checks, start=1)
    )


def _matches(procedure: Procedure, spec: ProcedureSpec) -> bool:
    candidate = Procedure(**{key: getattr(spec, key) for key in PROCEDURE_TEXT})
    candidate_items = [
        ConsentItem(order=order, **vars(risk)) for order, risk in enumerate(spec.risks, start=1)
    ]
    candidate_checks = [check.model(order) for order, check in enumerate(spec.checks, start=1)]
    return (
        procedure.compute_content_sha256()
        == candidate.compute_content_sha256(candidate_items, candidate_checks)
        and procedure.is_active == spec.active
        and procedure.needs_clinical_review == spec.needs_clinical_review
        and procedure.asks_for == spec.asks_for
    )


def load_library(
    specs: list[ProcedureSpec], *, dry_run: bool = False, skip_existing: bool = False
) -> LoadReport:
    """Create or update procedures to match the specs. Idempotent; atomic; nothing on dry run."""
    report = LoadReport()
    with transaction.atomic():
        existing = {
            p.slug: p for p in Procedure.objects.prefetch_related("items", "understanding_checks")
        }
        for spec in specs:
            procedure = existing.get(spec.slug)
            if procedure is None:
                procedure = Procedure(slug=spec.slug)
                report.created.append(spec.slug)
            elif skip_existing:
                report.skipped.append(spec.slug)
                continue
            elif _matches(procedure, spec):
                report.unchanged.append(spec.slug)
                continue
            else:
                report.updated.append(spec.slug)
            _apply(procedure, spec)
            procedure.save()
            _sync_items(procedure, spec.risks)
            _sync_checks(procedure, spec.checks)
            procedure_refresh_revision(procedure=procedure)
        if dry_run:
            transaction.set_rollback(True)
    return report


def export_library(procedures=None) -> str:
    """The library as YAML text in the same format load_library reads."""
    procedures = procedures if procedures is not None else Procedure.objects.all()
    data = {
        "format": FORMAT_VERSION,
        "procedures": [
            {
                **{key: getattr(p, key) for key in PROCEDURE_TEXT},
                "active": p.is_active,
                "needs_clinical_review": p.needs_clinical_review,
                **({"asks_for": _asks_for_words(p.asks_for)} if p.asks_for else {}),
                "risks": [_export_risk(item) for item in p.items.all()],
                "understanding_checks": [
                    _export_check(check) for check in p.understanding_checks.all()
                ],
            }
            for p in procedures.order_by("slug").prefetch_related("items", "understanding_checks")
        ],
    }
    return yaml.dump(data, Dumper=_LibraryDumper, sort_keys=False, allow_unicode=True, width=100)


def _export_risk(item: ConsentItem) -> dict:
    risk = {
        "title": item.title,
        "explanation": item.explanation,
        "severity": item.severity,
        "frequency": item.frequency,
        "required": item.required,
    }
    # The numbers only when set, so a library without them exports as it always did.
    if item.one_in is not None:
        risk["one_in"] = item.one_in
    if item.per_1000 is not None:
        risk["per_1000"] = _plain_number(item.per_1000)
    if item.rate_source:
        risk["rate_source"] = item.rate_source
    return risk


def _plain_number(value: Decimal) -> int | float:
    """50.000 as 50 and 12.500 as 12.5: YAML has no decimal type, and at most 3 decimal places
    survive the trip through a float exactly."""
    value = Decimal(value).normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def _export_check(check: UnderstandingCheck) -> dict:
    about = {"risk": check.risk_title} if check.risk_title else {"section": check.section}
    return {
        "question": check.question,
        **about,
        "answer": check.answer,
        "wrong": check.wrong_answer_list,
        "explanation": check.explanation,
    }


def _asks_for_words(value: str) -> list[str]:
    words = next(words for words, v in ASKS_FOR_WORDS.items() if v == value)
    return sorted(words)


class _LibraryDumper(yaml.SafeDumper):
    """Writes paragraphs of text as readable literal blocks instead of quoted strings."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LibraryDumper.add_representer(str, _represent_str)
