"""A notebook's ``import kdlib`` and ``from kdlib import course`` load none of the command line's machinery."""

import subprocess
import sys

HEAVY = ("papermill", "nbformat", "jupyter_client", "dask", "distributed", "yaml", "psutil")


def test_importing_kdlib_and_its_course_face_loads_no_runner_sweep_or_report_machinery():
    script = ("import sys, kdlib\nfrom kdlib import course\n"
              f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"importing kdlib and kdlib.course loaded {loaded}"
    # The probe can fail: the command line's face does load them.
    script = "import sys, kdlib.course.cli\nprint('papermill' in sys.modules and 'yaml' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip() \
        == "True"
