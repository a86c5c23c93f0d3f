"""A ``mermaid`` directive for the course site: the diagram's source goes into the page as it is, and the
site's own copy of mermaid (``_static/mermaid/dist/mermaid.min.js``) draws it in the reader's browser.

Why not sphinxcontrib-mermaid: it loads mermaid as an ES module, which browsers refuse on a page opened from a
file (``file://``), so the course map would stay text for a reader who opens the built site without a server.
mermaid's classic script has no such limit.
"""

from __future__ import annotations

from html import escape

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

SCRIPT = "mermaid/dist/mermaid.min.js"  # under _static/, unpacked there by the site builder
DRAWN = "mermaid"  # the page metadata key that marks a page with a diagram


class Mermaid(SphinxDirective):
    """The diagram's source in a ``<pre class="mermaid">``, which mermaid replaces with an SVG."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        if not self.content:
            raise self.error("a mermaid diagram needs its source as the directive's content")
        self.env.metadata[self.env.docname][DRAWN] = True
        source = escape("\n".join(self.content))  # mermaid reads the element's text, so entities are right
        return [nodes.raw("", f'<pre class="mermaid">\n{source}\n</pre>\n', format="html")]


def add_script(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: object) -> None:
    """mermaid's script, on the pages that draw a diagram only (it is 2.7 MB)."""
    if app.env.metadata.get(pagename, {}).get(DRAWN):
        app.add_js_file(SCRIPT)
        app.add_js_file(None, body='mermaid.initialize({startOnLoad: true, theme: "default"});')


def setup(app: Sphinx) -> dict[str, bool]:
    app.add_directive("mermaid", Mermaid)
    app.connect("html-page-context", add_script)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
