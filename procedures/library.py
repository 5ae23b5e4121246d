"""Read, validate, load and export the procedure library as a YAML data file.

The format is documented in docs/library-format.md. Loading validates the whole file first and
writes inside one transaction, so a bad file imports nothing.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.db import transaction

from .models import AsksFor, ConsentItem, Procedure, Severity
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
        errors.append(f'{where}: field "{key}" must be text, not {type(value).__name__}')
        return ""
    value = value.strip()
    if not value:
        errors.append(f'{where}: field "{key}" is empty')
    elif max_length and len(value) > max_length:
        errors.append(
            f'{where}: field "{key}" is {len(value)} characters long (at most {max_length})'
        )
    return value


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
    allowed = set(RISK_TEXT) | set(RISK_OPTIONAL_TEXT) | set(RISK_FLAGS)
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
    return RiskSpec(**values)


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
        allowed = set(PROCEDURE_TEXT) | set(PROCEDURE_FLAGS) | {"asks_for", "risks"}
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
        specs.append(ProcedureSpec(**values, risks=risks))

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
        for key in ("title", "explanation", "severity", "frequency", "required"):
            setattr(item, key, getattr(risk, key))
        item.save()


def _matches(procedure: Procedure, spec: ProcedureSpec) -> bool:
    candidate = Procedure(**{key: getattr(spec, key) for key in PROCEDURE_TEXT})
    candidate_items = [
        ConsentItem(order=order, **vars(risk)) for order, risk in enumerate(spec.risks, start=1)
    ]
    return (
        procedure.compute_content_sha256() == candidate.compute_content_sha256(candidate_items)
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
        existing = {p.slug: p for p in Procedure.objects.prefetch_related("items")}
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
                "risks": [
                    {
                        "title": item.title,
                        "explanation": item.explanation,
                        "severity": item.severity,
                        "frequency": item.frequency,
                        "required": item.required,
                    }
                    for item in p.items.all()
                ],
            }
            for p in procedures.order_by("slug").prefetch_related("items")
        ],
    }
    return yaml.dump(data, Dumper=_LibraryDumper, sort_keys=False, allow_unicode=True, width=100)


def _asks_for_words(value: str) -> list[str]:
    words = next(words for words, v in ASKS_FOR_WORDS.items() if v == value)
    return sorted(words)


class _LibraryDumper(yaml.SafeDumper):
    """Writes paragraphs of text as readable literal blocks instead of quoted strings."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LibraryDumper.add_representer(str, _represent_str)
