"""rc.conf corpus tier: real-world rc.conf files from shared/jailconf-corpus/rc.conf (skipped when absent).

Each file parses and renders byte-identical; every value the parser reads is the one /bin/sh reads; the
seed plan applied to it keeps every line it does not manage, in order, and a second run changes nothing.
"""

import difflib
import re

import pytest

from salt_jail.core.formats import rcconf
from tests.support.paths import shared_dir
from tests.support.rcconf import RC, RC_JAIL, SH, apply_plan, config, sh_values

SHARED = shared_dir()
CORPUS = sorted((SHARED / "jailconf-corpus" / "rc.conf").glob("*")) if SHARED else []
pytestmark = pytest.mark.skipif(not CORPUS, reason="shared/jailconf-corpus/rc.conf not found "
                                                   "(set SALT_JAIL_SHARED or put shared/ beside the repo)")
#: Lines the seed plan may change or add.
MANAGED = re.compile(r"\s*(jail_enable|jail_list|jail_parallel_start|ifconfig_em0_alias\d+)=")


@pytest.fixture(params=CORPUS or [None], ids=[path.name for path in CORPUS] or ["none"])
def corpus_file(request):
    return request.param


@pytest.fixture
def corpus_text(corpus_file):
    return corpus_file.read_text(encoding="utf-8")


def test_parses_and_renders_byte_identical(corpus_text):
    assert rcconf.parse(corpus_text).render() == corpus_text


@pytest.mark.skipif(SH is None, reason="no /bin/sh to compare with")
def test_every_value_is_the_one_sh_reads(corpus_text, tmp_path):
    code = [line for line in corpus_text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert all(re.match(r"[A-Za-z_]\w*=", line) for line in code) and "$(" not in corpus_text, \
        "only files of plain assignments are sourced"
    conf = rcconf.parse(corpus_text)
    keys = conf.names()
    assert keys
    assert {key: conf.get(key) for key in keys} == sh_values(corpus_text, keys, tmp_path)


@pytest.mark.parametrize("jail_list", ["auto", "explicit"])
def test_the_seed_plan_keeps_every_foreign_line(corpus_file, corpus_text, jail_list):
    # An rc.conf.d/jail file is planned as host.rc_conf = /etc/rc.conf.d/jail, anything else as /etc/rc.conf.
    path = RC_JAIL if corpus_file.name.endswith("rc.conf.d_jail") else RC
    cfg = config(rc_conf=path, jail_list=jail_list)
    texts = {path: corpus_text}
    new, _ = apply_plan(cfg, texts)   # asserts that a second run changes nothing
    old_lines, new_lines = texts[path].splitlines(), new[path].splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag != "equal":
            assert all(MANAGED.match(line) for line in old_lines[a1:a2] + new_lines[b1:b2]), (tag, a1, b1)
    conf = rcconf.parse(new[path])
    assert rcconf.checkyesno(conf.get("jail_enable")) is True
    if jail_list == "explicit":
        assert {"prisoner1", "prisoner2"} <= set(conf.get("jail_list").split())
    assert rcconf.parse(new[RC]).get("ifconfig_em0_alias0") == "inet 192.168.11.31 netmask 255.255.255.255"


def test_a_trailing_comment_survives_the_edit():
    """NeoTorino's ``jail_enable="NO"   # Set to NO ...`` is edited in place, comment and all."""
    found = [(path, line) for path in CORPUS for line in path.read_text(encoding="utf-8").splitlines()
             if re.match(r'jail_enable="NO"\s+#', line)]
    assert found, "the corpus has a commented jail_enable=\"NO\" line (FEATURES.md)"
    for path, line in found:
        new, _ = apply_plan(config(), {RC: path.read_text(encoding="utf-8")})
        assert line.replace('"NO"', '"YES"', 1) in new[RC].splitlines()
