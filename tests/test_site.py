"""The course website: its pieces by hand, then the whole site built from the committed notebooks and loaded page
by page in headless Chromium (skipped where Debian's chromium is missing, unless KDLIB_REQUIRE_BROWSER=1, as
in CI)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
from pathlib import Path

import nbformat
import pytest

from kdlib.course.folders import LEDGER
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from kdlib.course import site
from site_browser import (PageCheck, broken_links, check_site, external_assets, missing_browser, screenshots, serve,
                          site_pages, site_report)
from kdlib.course.lessons import notebook_paths


def test_the_download_note_sits_under_the_title_and_names_both_editions(tmp_path):
    path = tmp_path / "07_extra.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# 07 · Extra\n\nWhy it matters."), new_code_cell("1")]),
                   path)
    cells = site.site_notebook(path).cells
    assert [c.source for c in cells[:1]] == ["# 07 · Extra"]
    assert "{download}`the notebook <07_extra.ipynb>`" in cells[1].source
    assert "{download}`the student edition <../student/07_extra.ipynb>`" in cells[1].source
    assert cells[2].source == "Why it matters." and cells[3].source == "1"


def test_a_notebook_without_a_title_is_refused(tmp_path):
    path = tmp_path / "bad.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1")]), path)
    with pytest.raises(ValueError, match="bad.ipynb: the first cell must be Markdown"):
        site.site_notebook(path)


def test_home_page_is_the_readme_with_the_course_navigation():
    page = site.home_page("# Title\n\ntext\n\n", ["notebooks/00_overview", "docs/architecture"])
    assert page.startswith("# Title\n\ntext\n\n```{toctree}\n:hidden:\n")
    assert page.endswith("notebooks/00_overview\ndocs/architecture\n```\n")


def test_a_folder_the_builder_did_not_make_is_refused_and_its_own_is_refilled(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="holds files that python -m kdlib site did not write"):
        site.claim(foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    ours = site.claim(tmp_path / "site").folder
    (ours / "html.building" / "old.html").write_text("stale")
    site.claim(ours)
    assert list((ours / "html.building").iterdir()) == [] and (ours / LEDGER).is_file()


def _tarball(path: Path, files: dict[str, bytes]) -> site.WebAsset:
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    digest = base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
    return site.WebAsset("lib", "1.0.0", digest, ("dist/lib.js", "dist/chunks"))


def test_an_asset_is_unpacked_from_its_pinned_tarball_and_a_changed_one_refused(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    asset = _tarball(cache / "lib-1.0.0.tgz", {"dist/lib.js": b"js", "dist/chunks/a.mjs": b"a", "README": b"r"})
    site.unpack_asset(site.fetch_asset(asset, cache), asset, tmp_path / "static")
    found = sorted(str(p.relative_to(tmp_path / "static")) for p in (tmp_path / "static").rglob("*") if p.is_file())
    assert found == ["lib/dist/chunks/a.mjs", "lib/dist/lib.js"]
    tampered = site.WebAsset("lib", "1.0.0", "AAAA", asset.keep)
    with pytest.raises(RuntimeError, match="is not the pinned AAAA of lib 1.0.0: delete the file"):
        site.fetch_asset(tampered, cache)
    moved = site.WebAsset("lib", "1.0.0", asset.sha512, ("dist/gone.js",))
    with pytest.raises(RuntimeError, match="holds none of package/dist/gone.js"):
        site.unpack_asset(cache / "lib-1.0.0.tgz", moved, tmp_path / "static2")


def test_assets_fetched_from_another_host_are_found():
    html = ('<script src="https://cdn.jsdelivr.net/npm/mermaid.js"></script><script src="_static/own.js"></script>'
            '<link rel="stylesheet" href="//fonts.example.org/a.css"><a href="https://arxiv.org/abs/1">paper</a>'
            'import mermaid from "https://cdn.example.org/m.mjs";')
    assert external_assets(html) == ["https://cdn.jsdelivr.net/npm/mermaid.js", "//fonts.example.org/a.css",
                                          "https://cdn.example.org/m.mjs"]


def test_broken_internal_links_and_anchors_are_found(tmp_path):
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1>')
    (tmp_path / "b.html").write_text('<h1 id="intro">B</h1>')
    with serve(tmp_path) as base:
        links = [base + "a.html#top", base + "b.html#intro", base + "b.html#gone", base + "c.html",
                 base + "a.html", "https://example.org/x.html"]
        assert broken_links(links, base, {}) == ("b.html#gone", "c.html")


def test_problems_name_each_failure():
    check = PageCheck(page="p.html", console_errors=("boom",), images=3, broken_images=("x.png",), math=4,
                      untypeset_math=1, diagrams=1, undrawn_diagrams=1, links=2, broken_links=("q.html",))
    assert check.problems == ["console: boom", "image not loaded: x.png", "1 of 4 math elements not typeset",
                              "1 of 1 mermaid diagrams not drawn", "broken link: q.html"]
    assert PageCheck("p.html", (), 1, (), 1, 0, 0, 0, 1).problems == []


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    problem = missing_browser()
    if problem:
        if os.environ.get("KDLIB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"KDLIB_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)
    return site.build_site(tmp_path_factory.mktemp("site")).parent


def test_the_built_site_serves_everything_itself(built_site):
    pages = site_pages(built_site)
    assert {f"notebooks/{p.stem}.html" for p in notebook_paths()} | {"index.html", "docs/architecture.html"} \
        <= set(pages)
    for page in pages:
        assert external_assets((built_site / page).read_text()) == [], page


def test_every_page_loads_cleanly_in_chromium(built_site):
    """``make site-test`` sets KDLIB_SCREENSHOTS=docs/site/screenshots to take the README's two pictures again."""
    folder = os.environ.get("KDLIB_SCREENSHOTS")
    found = check_site(built_site, screenshots(Path(folder)) if folder else None)
    print(site_report(found))
    checks = {c.page: c for c in found}
    assert {page: c.problems for page, c in checks.items() if c.problems} == {}
    lessons = [checks[f"notebooks/{p.stem}.html"] for p in notebook_paths()]
    # what was checked is really there: math in every lesson, figures, the two mermaid diagrams
    assert all(c.math > 0 for c in lessons[1:]) and all(c.images > 0 for c in lessons)
    assert checks["notebooks/00_overview.html"].diagrams == 1 and checks["docs/architecture.html"].diagrams == 1
    assert checks["index.html"].images > 0
    for c in lessons:  # each lesson offers its two editions for download, and the links resolve
        html = (built_site / c.page).read_text()
        assert "_downloads/" in html and html.count(f"{Path(c.page).stem}.ipynb") >= 2, c.page
