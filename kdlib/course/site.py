"""The course website: the committed notebooks, the README and the pages under docs/ as one static site.

Built with Sphinx and MyST-NB (``docs/site/conf.py``) from the notebooks as they are committed, never
re-executed. Everything a page needs is served by the site itself, so that it builds and displays with no
network: the theme comes from PyPI with its assets, and the two scripts such sites load from a CDN in the
reader's browser (MathJax for Sphinx's math, mermaid for the course map: ``docs/site/mermaid_diagrams.py``)
are taken from the npm registry at build time, checked against pinned SHA-512 sums, and copied into
``_static/``.

The build folder holds ``source/`` (what Sphinx reads: copies, rebuilt every time), ``html/`` (the site) and
``doctrees/``; its ledger says the folder is the site builder's, and any other non-empty folder is refused.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell

from kdlib.course.edition import student_edition
from kdlib.course.folders import Ledger, writable_folder
from kdlib.course.lessons import notebook_paths

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "docs" / "site" / "conf.py"
CACHE = ROOT / "build" / "site-cache"  # downloaded npm tarballs, kept between builds
NPM_TIMEOUT_S = 60  # for one `npm pack`: a registry that accepts the connection and never answers fails then


@dataclass(frozen=True)
class WebAsset:
    """A browser package the site serves from ``_static/<package>/``, taken from the npm registry."""

    package: str
    version: str
    sha512: str  # the registry's integrity value (base64), checked against the downloaded tarball
    keep: tuple[str, ...]  # paths inside the package (under ``package/``) that the site needs

    @property
    def tarball(self) -> str:
        return f"{self.package}-{self.version}.tgz"


ASSETS = (
    # MathJax 3's combined TeX-to-CommonHTML component, its fonts, and the extensions it loads on demand.
    WebAsset("mathjax", "3.2.2",
             "Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==", ("es5",)),
    # mermaid's classic-script build (one file; an ES module would not load on a page opened from a file).
    WebAsset("mermaid", "11.12.1",
             "UlIZrRariB11TY1RtTgUWp65tphtBv4CSq7vyS2ZZ2TgoMjs2nloq+wFqxiwcxlhHUvs7DPGgMjs2aeQxz5h9g==",
             ("dist/mermaid.min.js",)),
)


def _sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode()


def fetch_asset(asset: WebAsset, cache: Path = CACHE) -> Path:
    """The asset's npm tarball in ``cache``, downloaded with ``npm pack`` when it is not there yet; a tarball
    whose SHA-512 is not the pinned one is refused (and left for the user to inspect)."""
    path = cache / asset.tarball
    if not path.is_file():
        if shutil.which("npm") is None:
            raise RuntimeError(f"the site needs {asset.package} {asset.version} from the npm registry and npm is not "
                               f"installed: install Node.js and npm (Debian: apt-get install npm), or put "
                               f"{asset.tarball} into {cache}")
        writable_folder(cache, "the site's download cache")
        offline = (f"offline, or behind a registry that does not answer, put {asset.tarball} into {cache} (made by "
                   f"`npm pack {asset.package}@{asset.version}` on a machine that reaches the npm registry)")
        try:
            done = subprocess.run(["npm", "pack", f"{asset.package}@{asset.version}", "--pack-destination",
                                   str(cache), "--json", f"--fetch-timeout={NPM_TIMEOUT_S * 1000}", "--fetch-retries=1"],
                                  capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"npm pack {asset.package}@{asset.version} had no answer from the npm registry in "
                               f"{NPM_TIMEOUT_S} s: {offline}") from None
        if done.returncode != 0 or not path.is_file():
            reason = next((line for line in done.stderr.splitlines() if "npm error" in line and "code" in line), "")
            raise RuntimeError(f"npm pack {asset.package}@{asset.version} failed (exit {done.returncode}"
                               f"{', ' + reason.strip() if reason else ''}): {offline}")
    found = _sha512(path)
    if found != asset.sha512:
        raise RuntimeError(f"{path}: SHA-512 {found} is not the pinned {asset.sha512} of {asset.package} "
                           f"{asset.version}: delete the file to download it again")
    return path


def unpack_asset(tarball: Path, asset: WebAsset, static: Path) -> None:
    """Copy the asset's ``keep`` paths from its tarball into ``static/<package>/``."""
    prefixes = tuple(f"package/{keep}" for keep in asset.keep)
    with tarfile.open(tarball) as archive:
        members = [m for m in archive.getmembers()
                   if m.isfile() and any(m.name == p or m.name.startswith(p + "/") for p in prefixes)]
        missing = [p for p in prefixes if not any(m.name == p or m.name.startswith(p + "/") for m in members)]
        if missing:
            raise RuntimeError(f"{tarball} holds none of {', '.join(missing)}: the pinned asset changed its layout")
        for member in members:
            target = static / asset.package / member.name.removeprefix("package/")
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out)


def download_cell(name: str) -> nbformat.NotebookNode:
    """A note at the top of a notebook's page: its two editions, as files to download and run."""
    return new_markdown_cell(
        ":::{note}\n"
        f"Run this lesson yourself: download {{download}}`the notebook <{name}>` (executed, worked solutions "
        f"included) or {{download}}`the student edition <../student/{name}>` (each solution replaced by an empty "
        "cell to fill in), and open it in JupyterLab from the repository (`make lab`).\n"
        ":::")


def site_notebook(path: Path) -> nbformat.NotebookNode:
    """The committed notebook with the download note placed right under its title."""
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0] if nb.cells else None
    if first is None or first.cell_type != "markdown" or not first.source.startswith("# "):
        raise ValueError(f"{path}: the first cell must be Markdown starting with its '# ' title (the page title)")
    title, _, rest = first.source.partition("\n")
    cells = [new_markdown_cell(title), download_cell(path.name)]
    if rest.strip():
        cells.append(new_markdown_cell(rest.strip("\n")))
    nb.cells = cells + nb.cells[1:]
    return nb


def home_page(readme: str, pages: list[str]) -> str:
    """The README as the site's home page, with the course's navigation (hidden: the sidebar shows it)."""
    toctree = "\n".join(pages)
    return f"{readme.rstrip()}\n\n```{{toctree}}\n:hidden:\n:caption: The course\n\n{toctree}\n```\n"


def stage(source: Path) -> list[Path]:
    """Fill ``source`` with what Sphinx reads; return the notebook pages in course order."""
    notebooks = notebook_paths()
    (source / "notebooks").mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        nbformat.write(site_notebook(path), source / "notebooks" / path.name)
    student_edition(notebooks, source / "student")
    for figures in ("results", "site/screenshots"):  # the README's pictures, at the paths it names
        shutil.copytree(ROOT / "docs" / figures, source / "docs" / figures)
    guides = sorted((ROOT / "docs").glob("*.md"))  # the architecture notes, running sweeps on a cluster
    for guide in guides:
        shutil.copy2(guide, source / "docs" / guide.name)
    lessons = sorted((ROOT / "docs" / "lessons").glob("*.md"))  # topics a lesson moved out, each linked from it
    (source / "docs" / "lessons").mkdir(parents=True, exist_ok=True)
    for page in lessons:
        shutil.copy2(page, source / "docs" / "lessons" / page.name)
    for settings in CONF.parent.glob("*.py"):  # conf.py and its local extension
        shutil.copy2(settings, source / settings.name)
    shutil.copytree(CONF.parent / "_static", source / "_static")
    pages = [f"notebooks/{p.stem}" for p in notebooks] + [f"docs/lessons/{page.stem}" for page in lessons] + \
        [f"docs/{guide.stem}" for guide in guides] + \
        [f"docs/results/{page.stem}" for page in sorted((ROOT / "docs" / "results").glob("*.md"))]
    (source / "index.md").write_text(home_page((ROOT / "README.md").read_text(), pages))
    for asset in ASSETS:
        unpack_asset(fetch_asset(asset), asset, source / "_static")
    return [source / "notebooks" / p.name for p in notebooks]


def claim(out: Path) -> Ledger:
    """``out`` ready for a new build: created if missing, its ``source/``, ``doctrees/`` and the new build's
    ``html.building/`` emptied when this builder made them; refused when it holds anything else
    (``kdlib.course.folders.Ledger``). The last good ``html/`` stays until a new one is built."""
    ledger = Ledger(out, "python -m kdlib site", exclusive=True)
    for part in ("source", "doctrees", "html.building"):
        ledger.folder_of_its_own(part)
    ledger.check(["html"])
    return ledger


def build_site(out: str | Path) -> Path:
    """Build the site into ``out/html`` and return its front page: built beside the last good site, which it replaces
    only once the build succeeded (a failed build, e.g. an unreachable registry, leaves the old site). Sphinx
    warnings (a broken link, a missing image, an unknown directive) fail the build."""
    ledger = claim(Path(out))
    out = ledger.folder
    stage(out / "source")
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
                           "-d", str(out / "doctrees"), str(out / "source"), str(out / "html.building")])
    if done.returncode != 0:
        raise RuntimeError(f"sphinx-build failed (exit {done.returncode}): its warnings are printed above; the last "
                           f"good site, if any, is kept in {out / 'html'}")
    return ledger.swap("html.building", "html") / "index.html"
