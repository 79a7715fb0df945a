"""The docs hold together: every relative link and anchor resolves, every command-line flag is
documented somewhere, README stays short and links every docs page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import REPO

from camview.commands.parser import build_parser

README = REPO / "README.md"
DOCS = REPO / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]

#: [text](target) and ![alt](target), the target up to a space or the closing bracket.
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def _prose(text: str) -> str:
    """The page without its fenced code blocks (no links live there)."""
    return FENCE.sub("", text)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in _prose(path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            base = _anchor(match.group(1))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def _links(path: Path) -> list[str]:
    return LINK.findall(_prose(path.read_text(encoding="utf-8")))


def _relative(target: str) -> bool:
    return not re.match(r"[a-z][a-z0-9+.-]*:", target)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for target in _links(page):
        if not _relative(target):
            continue
        file_part, _, anchor = target.partition("#")
        goal = (page.parent / file_part).resolve() if file_part else page
        if not goal.exists():
            broken.append(f"{target}: no such file")
        elif anchor and goal.suffix == ".md" and anchor not in _anchors(goal):
            broken.append(f"{target}: no heading #{anchor} in {goal.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_the_link_checker_sees_links_and_anchors():
    page = DOCS / "own-model.md"
    assert "your-own-model" in _anchors(page)
    assert _anchor("`camview evaluate`") == "camview-evaluate"
    assert "docs/window.png" in _links(README)


def _flags() -> dict[str, set[str]]:
    """{flag: the subcommands that take it}, from the parser itself (-h/--help aside)."""
    found: dict[str, set[str]] = {}
    parser = build_parser()
    commands = [("camview", parser)]
    for action in parser._actions:
        if action.choices and hasattr(action, "_name_parser_map"):
            commands += list(action._name_parser_map.items())
    for name, sub in commands:
        for action in sub._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    found.setdefault(flag, set()).add(name)
    return found


def test_every_flag_of_every_subcommand_is_documented():
    flags = _flags()
    assert "--samples" in flags and "--versus" in flags and "--markdown" not in flags
    text = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
    missing = [f"{flag} ({', '.join(sorted(where))})" for flag, where in sorted(flags.items())
               if not re.search(re.escape(flag) + r"(?![\w-])", text)]
    assert not missing, "flags no page mentions: " + "; ".join(missing)


def test_readme_stays_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 320, f"README.md has {lines} lines; move detail to docs/"


def test_readme_links_every_docs_page():
    linked = {(README.parent / target.partition("#")[0]).resolve()
              for target in _links(README) if _relative(target)}
    unlinked = [p.name for p in DOCS.glob("*.md") if p.resolve() not in linked]
    assert not unlinked, f"docs pages README does not link: {unlinked}"


def test_bench_markdown_page_has_machine_versions_and_every_key(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_for_docs", REPO / "scripts" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = {"peak_gflops": 12.5, "cpu_count": 2,
              "models": [{"model": "squeezenet", "classify_ms": 6.6,
                          "pipeline": {"display_fps": 30.0, "latency_ms_p95": 27.0}}],
              "dream_classes": {"tabby": {"s": 1.5, "prob": 0.98}}}
    out = tmp_path / "results.md"
    bench.write_markdown(str(out), report, ["--quick"])
    page = out.read_text(encoding="utf-8")
    for needed in ("# Benchmark results", "- cpu: ", "- cores: ", "- memory: ", "- date: ",
                   "python ", "tensorflow ", "openvino ", "numpy ", "camview ",
                   "`scripts/bench.py --quick`", "(benchmark.md)"):
        assert needed in page, needed
    for key in ("peak_gflops", "classify_ms", "display_fps", "latency_ms_p95", "prob"):
        assert f"| `{key}` |" in page, key
    assert "### `models`: squeezenet" in page
    assert not list(tmp_path.glob(".*")), "a partial file was left beside the page"
