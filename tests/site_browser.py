"""The course site in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``), driven by
Selenium, loads every page of a built site from a local server, with every other host unreachable, and reports
what a reader would see go wrong: console errors, images that did not load, math that was not typeset, a mermaid
diagram that was not drawn, internal links (and their ``#anchors``) that lead nowhere.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urljoin

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 30.0  # the longest a page may take to typeset its math and draw its diagrams


@dataclass(frozen=True)
class PageCheck:
    """What the browser found on one page of the site."""

    page: str  # relative to the site's root
    console_errors: tuple[str, ...]
    images: int
    broken_images: tuple[str, ...]  # src of each image with naturalWidth 0
    math: int  # elements Sphinx marked as math
    untypeset_math: int  # of those, how many hold no MathJax output or a MathJax error
    diagrams: int  # mermaid blocks
    undrawn_diagrams: int  # of those, how many hold no drawn SVG
    links: int  # internal links followed
    broken_links: tuple[str, ...] = field(default=())

    @property
    def problems(self) -> list[str]:
        found = [f"console: {e}" for e in self.console_errors]
        found += [f"image not loaded: {src}" for src in self.broken_images]
        found += [f"{self.untypeset_math} of {self.math} math elements not typeset"] if self.untypeset_math else []
        found += ([f"{self.undrawn_diagrams} of {self.diagrams} mermaid diagrams not drawn"]
                  if self.undrawn_diagrams else [])
        found += [f"broken link: {link}" for link in self.broken_links]
        return found


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on a free local port; yields its base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def external_assets(html: str) -> list[str]:
    """Scripts, style sheets and images a page would fetch from another host (a site meant to work offline
    must have none)."""
    found = re.findall(r'<(?:script|img|source)\b[^>]*\bsrc="((?:https?:)?//[^"]+)"', html)
    found += re.findall(r'<link\b[^>]*\bhref="((?:https?:)?//[^"]+)"[^>]*>', html)
    found += re.findall(r'\b(?:import|from)\s*\(?\s*["\']((?:https?:)?//[^"\']+)["\']', html)  # ES modules
    return found


def missing_browser() -> str | None:
    """Why the browser check cannot run here, or None when it can."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).is_file():
            return f"{path} not found: install Debian's {package} (apt-get install chromium chromium-driver)"
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed: pip install -e '.[site]'"
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[object]:
    """Headless Chromium under Selenium, with every host but this machine's loopback unreachable (so a page that
    needs the network shows it as a console error) and the console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", f"--window-size={width},{height}",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


# Run in the page once it has loaded: waits for MathJax's typesetting and mermaid's drawing (or WAIT_S), then
# counts what came out. Sphinx marks math with the class "math"; MathJax 3 puts an mjx-container inside.
_INSPECT = """
const done = arguments[arguments.length - 1];
const deadline = Date.now() + arguments[0] * 1000;
const ready = () => (!window.MathJax || (MathJax.startup && MathJax.startup.promise))
    && [...document.querySelectorAll('.mermaid')].every(d => d.querySelector('svg') || d.dataset.processed === 'error');
const report = () => {
  const images = [...document.images];
  const math = [...document.querySelectorAll('.math')];
  const diagrams = [...document.querySelectorAll('.mermaid')];
  done({
    images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
    math: math.length,
    untypeset: math.filter(m => !m.querySelector('mjx-container') || m.querySelector('mjx-merror')).length,
    diagrams: diagrams.length,
    undrawn: diagrams.filter(d => { const s = d.querySelector('svg');
                                    return !s || s.getBoundingClientRect().width === 0
                                           || /Syntax error/.test(d.textContent); }).length,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  });
};
const poll = () => {
  if (Date.now() > deadline) { report(); return; }
  if (!ready()) { setTimeout(poll, 100); return; }
  const typeset = window.MathJax ? MathJax.startup.promise : Promise.resolve();
  typeset.then(() => setTimeout(report, 200), () => report());
};
for (const img of document.images) img.loading = 'eager';
poll();
"""


def _anchors(url: str, cache: dict[str, set[str] | None]) -> set[str] | None:
    """The ids a page defines, or None when the URL does not load."""
    if url not in cache:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode("utf-8", "replace")
            cache[url] = set(re.findall(r'\bid="([^"]+)"', text))
        except (urllib.error.URLError, OSError):
            cache[url] = None
    return cache[url]


def broken_links(links: list[str], base: str, cache: dict[str, set[str] | None]) -> tuple[str, ...]:
    """The internal links among ``links`` whose page does not load or whose #anchor the page does not define."""
    broken = []
    for link in sorted(set(links)):
        if not link.startswith(base):
            continue
        page, anchor = urldefrag(link)
        ids = _anchors(page, cache)
        if ids is None or (anchor and anchor not in ids and page.endswith(".html")):
            broken.append(link.removeprefix(base))
    return tuple(broken)


def check_page(driver: object, base: str, page: str, cache: dict[str, set[str] | None]) -> PageCheck:
    """Load one page and inspect it."""
    driver.get_log("browser")  # drop what earlier pages left
    driver.get(urljoin(base, page))
    driver.set_script_timeout(WAIT_S + 10)
    found = driver.execute_async_script(_INSPECT, WAIT_S)
    errors = tuple(entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE")
    internal = [link for link in found["links"] if link.startswith(base)]
    return PageCheck(page=page, console_errors=errors, images=found["images"], broken_images=tuple(found["broken"]),
                     math=found["math"], untypeset_math=found["untypeset"], diagrams=found["diagrams"],
                     undrawn_diagrams=found["undrawn"], links=len(set(internal)),
                     broken_links=broken_links(internal, base, cache))


def site_pages(html_dir: Path) -> list[str]:
    """Every HTML page of a built site, relative to its root (not the theme's templates under ``_static/``)."""
    return [str(p.relative_to(html_dir)) for p in sorted(html_dir.rglob("*.html"))
            if p.relative_to(html_dir).parts[0] != "_static"]


def check_site(html_dir: str | Path, screenshots: dict[str, tuple[str, Path]] | None = None) -> list[PageCheck]:
    """Check every page of the site in ``html_dir``. ``screenshots`` maps a page to (a CSS selector to scroll to,
    or "", and the PNG file to write) for the pictures committed under docs/."""
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        raise ValueError(f"{html_dir} holds no index.html: build the site first (python -m kdlib site)")
    problem = missing_browser()
    if problem:
        raise RuntimeError(problem)
    screenshots = screenshots or {}
    cache: dict[str, set[str] | None] = {}
    checks = []
    with serve(html_dir) as base, chromium() as driver:
        for page in site_pages(html_dir):
            checks.append(check_page(driver, base, page, cache))
            if page in screenshots:
                selector, target = screenshots[page]
                if selector:
                    driver.execute_script("document.querySelector(arguments[0]).scrollIntoView()", selector)
                target.parent.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(target))
    return checks



def screenshots(folder: Path) -> dict[str, tuple[str, Path]]:
    """The pictures of the site committed under docs/: the course map, and a lesson's math beside its figure."""
    return {"notebooks/00_overview.html": ("#the-pipeline", folder / "course-map.png"),
            "notebooks/01_soft_labels.html": ("#soft-labels-and-temperature", folder / "lesson.png")}


def site_report(checks: list[PageCheck]) -> str:
    """One line per page: what was checked and what went wrong, as a Markdown table."""
    lines = ["| page | images | math | diagrams | internal links | problems |", "|---|---|---|---|---|---|"]
    for c in checks:
        lines.append(f"| {c.page} | {c.images - len(c.broken_images)}/{c.images} loaded | "
                     f"{c.math - c.untypeset_math}/{c.math} typeset | {c.diagrams - c.undrawn_diagrams}/{c.diagrams} "
                     f"drawn | {c.links - len(c.broken_links)}/{c.links} resolve | "
                     f"{'; '.join(c.problems) or 'none'} |")
    return "\n".join(lines)
