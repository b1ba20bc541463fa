# The README's two commands: `make demo` and `make test` (and `make bench`).
# `make test-salt-lts` runs the Salt-facing tiers against the Salt LTS line in a second virtualenv.
PYTHON ?= python3
VENV ?= .venv
# The Salt a virtualenv gets, installed before salt_jail as a Salt shop's host already has it; salt_jail
# itself accepts any salt>=3006.  .ci/run tests both: the newest 3008.x that installs here, and 3006 (LTS).
SALT ?= 3008.4
SALT_LTS ?= 3006.29
VENV_LTS ?= .venv-salt$(SALT_LTS)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-salt-$(SALT)

.PHONY: demo test test-salt-lts bench venv clean

venv: $(STAMP)

$(STAMP): setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "salt==$(SALT)"
	$(PY) -m pip install -q -e '.[test]'
	@# installing salt_jail must keep the Salt that was there
	$(PY) -c 'import salt.version, sys; v = salt.version.__version__; sys.exit(0 if v == "$(SALT)" else f"salt {v} replaced salt $(SALT)")'
	rm -f $(VENV)/.installed*
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m salt_jail.rehearse --demo

test: $(STAMP)
	$(PY) -m pytest -q

# The tiers that talk to Salt (its loader, real salt-master/salt-minion/salt-call/salt-run, the wheel
# installed beside Salt) on the LTS line; the functional tests of the release cache and tar use no Salt.
test-salt-lts:
	$(MAKE) venv VENV=$(VENV_LTS) SALT=$(SALT_LTS)
	$(VENV_LTS)/bin/python -m pytest -q tests/functional tests/integration \
		--ignore=tests/functional/test_release_extract.py --ignore=tests/functional/test_extract_progress.py

bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/run.py

clean:
	-[ ! -e demo-root/.rehearsal/zfs/pools.json ] || $(PY) -m salt_jail.rehearsal.zfspool --destroy demo-root
	# nullfs mounts of thin prisoners are real read-only binds: unmount them first, deepest first
	-[ -d demo-root ] && awk -v r="$(CURDIR)/demo-root" '$$5 == r || index($$5, r "/") == 1 {print $$5}' \
		/proc/self/mountinfo | sort -r | xargs -r -n1 umount
	-[ -x $(PY) ] && $(PY) -c 'from salt_jail import rehearsal; rehearsal.clear_network("demo-root")'
	-chattr -R -i -a demo-root 2>/dev/null  # the rehearsal's schg files are immutable
	rm -rf $(VENV) $(VENV_LTS) demo-root build dist
