"""``python -m kdlib``: the course's command line (``kdlib.course.cli``)."""

import sys

from kdlib.course.cli import main

sys.exit(main())
