"""Reads pytest's JUnit XML: each test's outcome, message and properties.

Run pytest with ``-o junit_family=legacy``: the xunit2 family drops per-test properties, and
the plugin puts ``failure_category`` there.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CaseResult:
    name: str  # classname::name, close to the pytest node id
    outcome: str  # passed, failed, error, skipped
    message: str = ""
    text: str = ""
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def category(self) -> str | None:
        return self.properties.get("failure_category")


@dataclass(frozen=True)
class JunitReport:
    cases: tuple[CaseResult, ...]

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if c.outcome in ("failed", "error")]


def parse_junit(source: str | Path) -> JunitReport:
    """``source`` is a path or the XML text. Raises ValueError if it is not JUnit XML."""
    text = Path(source).read_text(encoding="utf-8") if isinstance(source, Path) else source
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from exc
    if root.tag not in ("testsuite", "testsuites"):
        raise ValueError(f"not JUnit XML: root element <{root.tag}>")
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    cases: list[CaseResult] = []
    for suite in suites:
        for case in suite.iter("testcase"):
            outcome, message, body = "passed", "", ""
            # A test can carry both <failure> (call) and <error> (teardown); the failure decides.
            for tag in ("failure", "error", "skipped"):
                node = case.find(tag)
                if node is not None:
                    outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                    body = node.text or ""
                    message = _whole(node.get("message", ""), body)
                    break
            cls, name = case.get("classname", ""), case.get("name", "")
            cases.append(
                CaseResult(
                    name=f"{cls}::{name}" if cls else name,
                    outcome=outcome,
                    message=message,
                    text=body,
                    properties=_properties(case),
                )
            )
    return JunitReport(tuple(cases))


# pytest (8.4+) keeps whole lines of a long message up to a budget, then adds this note.
_SHORTENED = re.compile(r"\n\[(?:\+\d+ more lines?|truncated); full report in element text\]$")


def _whole(message: str, body: str) -> str:
    """The message, or, when pytest shortened it, the exception's own lines from the full
    report (its ``E   `` lines), where a compiler's error survives."""
    if not _SHORTENED.search(message):
        return message
    raised = [ln[1:].strip() for ln in body.splitlines() if ln.startswith("E ")]
    return "\n".join(raised) if raised else _SHORTENED.sub("", message)


def _properties(node: ET.Element) -> dict[str, str]:
    props = node.find("properties")
    if props is None:
        return {}
    return {p.get("name", ""): p.get("value", "") for p in props.findall("property")}
