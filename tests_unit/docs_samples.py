"""Command samples in the docs, checked against what the code prints.

A sample is a fenced block right after ``<!-- sample: NAME -->`` in a Markdown file. A test
produces the same text (running the command on the first ``$ `` line of the block, where there
is one) and calls ``check_sample``. Before comparing, both sides are normalised for what varies
from run to run or from build to build of a dependency and says nothing about our code: dates,
the tflite-micro build's version, trailing blanks. Every figure is compared as printed.

``TFLM_HIL_UPDATE_DOCS=1 pytest ...`` rewrites the samples from what the tests produce (review
the diff before committing it).
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARK = re.compile(r"<!-- sample: (?P<name>[\w-]+) -->\n```[^\n]*\n(?P<body>.*?)^```", re.S | re.M)
UPDATE = os.environ.get("TFLM_HIL_UPDATE_DOCS") == "1"

# what varies and is not ours: each replaced by a placeholder of the same width where the text
# is a table, so the columns still line up
_VARIES = [
    (re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b"), "YYYY-MM-DD hh:mm"),
    (re.compile(r"\b(tflite-micro )0\.dev\d[0-9a-g-]*"), r"\1<version>"),
]


def doc_samples(doc: str) -> dict[str, str]:
    """The samples of ``doc`` (a path relative to the repository) by name."""
    return {m["name"]: m["body"] for m in MARK.finditer((REPO / doc).read_text())}


def all_samples() -> dict[str, str]:
    """Every sample in the README and docs/, as ``doc#name``."""
    docs = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    return {
        f"{d.relative_to(REPO)}#{name}": body
        for d in docs
        for name, body in doc_samples(str(d.relative_to(REPO))).items()
    }


def sample_command(doc: str, name: str) -> list[str]:
    """The command of a sample: its first line, after ``$ ``."""
    first = doc_samples(doc)[name].splitlines()[0]
    assert first.startswith("$ "), f"{doc} sample {name} does not start with a $ command line"
    return shlex.split(first[2:])


def normalise(text: str) -> str:
    for pattern, placeholder in _VARIES:
        text = pattern.sub(placeholder, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def check_sample(doc: str, name: str, produced: str, *, excerpt: bool = False) -> None:
    """Fails unless sample ``name`` of ``doc`` is ``produced`` (normalised); with ``excerpt``,
    every line of the sample must be a line of ``produced`` (a sample that shows a few lines
    of a longer output)."""
    body = doc_samples(doc)[name]
    if UPDATE:
        _rewrite(doc, name, body, produced, excerpt)
        return
    want, got = normalise(body), normalise(produced)
    hint = f"{doc}, sample {name!r}, is stale (TFLM_HIL_UPDATE_DOCS=1 rewrites it)"
    if excerpt:
        missing = [ln for ln in want.splitlines() if ln not in got.splitlines()]
        assert not missing, f"{hint}: not printed: {missing}\nprinted:\n{got}"
    else:
        assert want == got, f"{hint}:\n--- docs\n{want}\n--- printed\n{got}"


def _rewrite(doc: str, name: str, body: str, produced: str, excerpt: bool) -> None:
    printed = [ln.rstrip() for ln in produced.strip("\n").splitlines()]
    if excerpt:  # keep the sample's choice of lines, each replaced by the closest printed one
        lines = [
            (difflib.get_close_matches(ln, printed, n=1, cutoff=0) or [ln])[0]
            for ln in body.splitlines()
        ]
    else:
        lines = printed
    new = "\n".join(lines) + "\n"
    path = REPO / doc
    text = path.read_text()
    start = text.index(f"<!-- sample: {name} -->")
    at = text.index(body, start)
    path.write_text(text[:at] + new + text[at + len(body) :])


# A block a test runs as written: a fenced block right after ``<!-- run: NAME -->``.
RUN_MARK = re.compile(r"<!-- run: (?P<name>[\w-]+) -->\n```[^\n]*\n(?P<body>.*?)^```", re.S | re.M)
_EXIT = re.compile(r"\bexit (\d+)\b")


def doc_commands(doc: str, name: str) -> list[tuple[list[str], int]]:
    """The commands of ``doc``'s block ``<!-- run: NAME -->``, one a line (a ``\\`` joins the
    next), each with the exit status its comment promises (``# ... exit N``), else 0."""
    found = {m["name"]: m["body"] for m in RUN_MARK.finditer((REPO / doc).read_text())}
    assert name in found, f"{doc} has no block marked <!-- run: {name} -->"
    commands = []
    for line in found[name].replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            promised = _EXIT.search(line.partition("#")[2])
            commands.append((words, int(promised[1]) if promised else 0))
    return commands
