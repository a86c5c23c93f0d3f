"""Sphinx settings of the course site; `python -m kdlib site` (kdlib/course/site.py) copies this file beside
the pages it stages and runs sphinx-build on them.

Sphinx with MyST-NB, not Jupyter Book 2 (mystmd): everything here installs from PyPI and builds with no network,
while mystmd downloads its site theme at build time. The notebooks are shown as committed (never executed here).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # mermaid_diagrams.py, beside this file

project = "kd-imagegen"
author = "the kd-imagegen authors"
html_title = "Knowledge distillation for image generation"

extensions = ["myst_nb", "mermaid_diagrams"]
# student/: the student edition, offered for download only; docs/results/*/: copied for the README's figures (the
# pages directly under docs/results/ are the site's results pages).
exclude_patterns = ["student/**", "docs/results/*/**", "docs/site/**"]
# The README's generated result blocks use #### headings under a ## section in one example: cosmetic.
suppress_warnings = ["myst.header"]

# The notebooks: shown with the outputs they were committed with.
nb_execution_mode = "off"
nb_merge_streams = True
nb_render_markdown_format = "myst"  # Markdown a cell displays is parsed like the notebooks' own (math included)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_fence_as_directive = ["mermaid"]  # ```mermaid fences in the notebooks become diagrams
myst_heading_anchors = 4

# Served from _static/, where the site builder unpacks the pinned npm packages: no CDN in the reader's browser
# (mermaid's script is added by mermaid_diagrams.py).
mathjax_path = "mathjax/es5/tex-chtml.js"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"  # without one, the browser asks for /favicon.ico and logs a 404

html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "show_toc_level": 2,
}
html_context = {"default_mode": "light"}  # unset, the theme logs an error on a reader's first visit
html_last_updated_fmt = None
html_show_sourcelink = False
