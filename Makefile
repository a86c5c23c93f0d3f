# kd-imagegen: `make run` runs the course (quick profile), `make test` passes the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
STAMP := $(VENV)/.installed-stamp
NBVAL_DIR := build/nbval

.PHONY: install data run test notebooks bench lab student-edition site site-test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "kd-imagegen needs Python >= 3.11 (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,site,cluster]'
	touch $@

install: $(STAMP)

# Fashion-MNIST, the default data set: kdlib's sources first (KDLIB_DATA, the Debian
# package's folder, data/, a torchvision download); on Debian/Ubuntu as root, with
# none of those, the package dataset-fashion-mnist is installed.
data: install
	@$(PY) -m kdlib data fashion-mnist || { \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's dataset-fashion-mnist"; \
			apt-get update -q && apt-get install -y -q dataset-fashion-mnist \
				&& $(PY) -m kdlib data fashion-mnist; \
		else exit 1; fi; }

run: data
	$(PY) -m kdlib run --profile $(PROFILE)

# Unit tests, then every notebook once, and once more as the student edition (solutions
# replaced by stubs): papermill injects the smoke profile and a fresh run folder, nbval
# executes it and checks the cells marked NBVAL_CHECK_OUTPUT.
test: data
	$(PY) -m kdlib prepare --profile smoke --out $(NBVAL_DIR)
	$(PY) -m kdlib prepare --profile smoke --student --out $(NBVAL_DIR)-student
	KDLIB_PROGRESS=0 $(PY) -m pytest tests $(NBVAL_DIR) $(NBVAL_DIR)-student --nbval-lax --nbval-current-env \
		-p no:cacheprovider

# The student edition of every notebook, into build/student/ (or STUDENT=DIR).
STUDENT ?= build/student
student-edition: install
	$(PY) -m kdlib student-edition --out $(STUDENT)

# Re-execute the notebooks and write them back, cleaned, for committing: the quick
# profile from a fresh run folder (its times are recorded for the overview). The
# full profile's results come from run folders of their own (docs/results/full.md
# gives the commands), not from the committed notebooks.
notebooks: data
	rm -rf runs/notebooks-quick
	$(PY) -m kdlib run --profile quick --run-dir runs/notebooks-quick --update-notebooks --record-timings
	$(PY) -m kdlib run --profile quick --run-dir runs/notebooks-quick --update-notebooks  # again, loading the checkpoints: every notebook's Time line shows the new timings

# Every kept bench script at its defaults, after the quick chain it reads (runs/quick): each writes under runs/, never
# over a committed result (those commands pass --out docs/results/...). Hours on 2 CPU cores: the stability grid
# alone trains 440 students. Scripts whose question is answered left bench/: docs/results/experiments.md.
bench: run
	$(PY) bench/students.py
	$(PY) bench/diffusion_distillation.py --part targets
	$(PY) bench/stability.py
	$(PY) bench/student_tuning.py
	$(PY) bench/diffusion_distillation.py --part tuning

# The course website from the committed notebooks (not executed), the README and docs/, into build/site/html
# (or SITE=DIR/html). MathJax and mermaid come from the npm registry on the first build (cached in
# build/site-cache), so that the site displays with no network.
SITE ?= build/site
site: install
	$(PY) -m kdlib site --out $(SITE)

# The site's tests alone (tests/test_site.py, which make test runs too): the site built, every page loaded in
# headless Chromium (Debian's chromium and chromium-driver; installed here when missing and run as root), and
# the two screenshots under docs/site/screenshots/ taken again.
site-test: install
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && apt-get install -y -q chromium chromium-driver; \
		else echo "site-test needs Debian's chromium and chromium-driver"; exit 1; fi; }
	KDLIB_REQUIRE_BROWSER=1 KDLIB_SCREENSHOTS=docs/site/screenshots $(PY) -m pytest tests/test_site.py -p no:cacheprovider -s

lab: install
	$(VENV)/bin/jupyter lab notebooks/
