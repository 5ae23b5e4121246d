"""axe-core in the browser tests: WCAG 2.0, 2.1 and 2.2 A/AA on a page, as a plain assert.

axe-core comes from npm (package.json, devDependencies) and is read from node_modules. It is
injected into the page as an inline script, which the app's strict Content-Security-Policy
refuses (rightly): run axe in a context made with `axe_context()`, which opens it with
`bypass_csp=True`. That context is for the accessibility checks only; tests/e2e/test_csp.py
keeps checking the policy in contexts that do not bypass it.
"""

import itertools
from pathlib import Path

from django.conf import settings

AXE_JS = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"

# WCAG 2.0, 2.1 and 2.2, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Rules enabled by name as well. target-size (WCAG 2.2's 2.5.8) is off in a bare axe.run();
# selecting wcag22aa runs it, and naming it keeps it on whatever axe's defaults become. The
# others are axe's best practices for headings and landmarks, outside the WCAG tags.
EXTRA_RULES = ["target-size", "heading-order", "page-has-heading-one", "landmark-one-main"]

RUN = """async ([tags, extra]) => {
  const rules = Object.fromEntries(extra.map((id) => [id, { enabled: true }]));
  const results = await axe.run(document, {
    runOnly: { type: "tag", values: tags },
    rules,
    resultTypes: ["violations"],
  });
  const ran = new Set(
    [...results.violations, ...results.passes, ...results.incomplete, ...results.inapplicable]
      .map((r) => r.id)
  );
  return {
    ran: extra.filter((id) => ran.has(id)),
    violations: results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
    })),
  };
}"""

# Our own check of the outline: every visible heading in order, h1 first, no level skipped.
HEADINGS = """() => [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")]
  .filter((h) => h.checkVisibility() && !h.closest("[aria-hidden=true]"))
  .map((h) => [Number(h.tagName[1]), h.textContent.trim().replace(/\\s+/g, " ")])"""


def axe_context(new_context, **options):
    """A browser context in which axe can be injected (see the module's docstring)."""
    return new_context(bypass_csp=True, **options)


def heading_problems(headings: list[tuple[int, str]]) -> list[str]:
    """What is wrong with a page's outline: not exactly one h1, not h1 first, a skipped level."""
    problems = []
    ones = [text for level, text in headings if level == 1]
    if len(ones) != 1:
        problems.append(f"{len(ones)} h1 headings (want exactly one): {ones}")
    if headings and headings[0][0] != 1:
        problems.append(f"the first heading is h{headings[0][0]}, not h1: {headings[0][1]!r}")
    for (before, _), (level, text) in itertools.pairwise(headings):
        if level > before + 1:
            problems.append(f"h{before} is followed by h{level} ({text!r})")
    return problems


def format_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"]:
            summary = " / ".join(line.strip() for line in node["summary"].splitlines()[1:])
            lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)


def axe_violations(page) -> list[dict]:
    """Run axe on the page as it is now; returns axe's violations (rule, impact, nodes)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_JS.read_text())
    outcome = page.evaluate(RUN, [WCAG_TAGS, EXTRA_RULES])
    # The extra rules really ran: a misspelt id or an axe upgrade that renames one fails here.
    assert outcome["ran"] == EXTRA_RULES, (
        f"axe did not run {set(EXTRA_RULES) - set(outcome['ran'])}"
    )
    return outcome["violations"]


def assert_no_axe_violations(page, where: str = "") -> None:
    """Fail with a readable list (rule, impact, elements, what is wrong) if axe finds anything
    on the page, or if its headings are out of order."""
    where = where or page.url
    violations = axe_violations(page)
    assert not violations, f"axe found problems on {where}:\n{format_violations(violations)}"
    problems = heading_problems([tuple(h) for h in page.evaluate(HEADINGS)])
    assert not problems, f"headings out of order on {where}: " + "; ".join(problems)
