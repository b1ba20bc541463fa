# The README's two commands: `make demo` and `make test` (and `make bench`).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench venv clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m salt_jail.rehearse --demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/run.py

clean:
	-[ ! -e demo-root/.rehearsal/zfs/pools.json ] || $(PY) -m salt_jail.rehearsal.zfspool --destroy demo-root
	# nullfs mounts of thin prisoners are real read-only binds: unmount them first, deepest first
	-[ -d demo-root ] && awk -v r="$(CURDIR)/demo-root" '$$5 == r || index($$5, r "/") == 1 {print $$5}' \
		/proc/self/mountinfo | sort -r | xargs -r -n1 umount
	-chattr -R -i -a demo-root 2>/dev/null  # the rehearsal's schg files are immutable
	rm -rf $(VENV) demo-root
