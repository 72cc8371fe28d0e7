"""The documentation site builds with ``mkdocs build --strict``: a broken link, a missing page or a
dangling anchor fails the tests, and so does a README link to a file that does not exist."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs", reason="the site test needs the test extra (mkdocs, mkdocs-material)")

ROOT = Path(__file__).resolve().parents[2]


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent)}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          capture_output=True, text=True, env=env, timeout=120)


def test_site_builds_strictly(tmp_path):
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr[-2000:]
    nav = re.findall(r"^\s+- [^:]+: (\S+\.md)$", (ROOT / "mkdocs.yml").read_text(), re.M)
    pages = sorted(str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md"))
    assert sorted(nav) == pages  # every page is in the navigation, once, and every entry exists
    html = (tmp_path / "site" / "configuration" / "index.html").read_text()
    text = re.sub(r"<[^>]+>", "", html)  # the highlighted YAML, as text
    assert "report:" in text and "currency: null" in text and "locale: en" in text


def test_a_broken_anchor_fails_the_build(tmp_path):
    """Negative control: the strict build is what catches a link to a heading that does not exist."""
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    page = tmp_path / "docs" / "index.md"
    page.write_text(page.read_text() + "\nSee [the scores](metrics.md#no-such-heading).\n")
    done = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-heading" in done.stderr


def test_readme_links_resolve():
    readme = (ROOT / "README.md").read_text()
    links = [t for t in re.findall(r"\]\(([^)\s]+)\)", readme) if not t.startswith(("http", "#"))]
    assert len(links) >= 15
    assert [t for t in links if not (ROOT / t.split("#")[0]).exists()] == []
    assert len(readme.splitlines()) <= 250  # the front door; the reference is in docs/
