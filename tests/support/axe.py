"""axe-core in the page: the serious and critical accessibility violations of what is shown,
for the a11y sweep and the pages' own browser tests (the ``axe_source`` fixture is in
tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

BLOCKING = ("serious", "critical")

# Only what is asserted crosses back from the page (a full result, passes included, is many
# megabytes on a page with a grid).
RUN_AXE = """async ([tags, blocking, scope]) => {
  const result = await axe.run(scope ? {include: [scope]} : document,
    {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.filter((v) => blocking.includes(v.impact)).map((v) => ({
    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')),
  }));
}"""


def axe_violations(page: Any, axe_source: Path, scope: str | None = None) -> list[dict[str, Any]]:
    """The serious and critical violations axe finds on the page as it is now (within the
    ``scope`` selector, else the whole document)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(axe_source))
    return page.evaluate(RUN_AXE, [TAGS, list(BLOCKING), scope])


def describe(where: str, violations: list[dict[str, Any]]) -> list[str]:
    lines = []
    for v in violations:
        targets = "; ".join(v["targets"][:5])
        more = f" (+{len(v['targets']) - 5} more)" if len(v["targets"]) > 5 else ""
        lines.append(f"{where}: {v['id']} [{v['impact']}] {v['help']} -> {targets}{more}")
    return lines
