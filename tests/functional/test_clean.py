"""`state.apply jail.clean`, the inverse of the formula (issue 14, deliverable 6), through Salt's loader on a
rehearsal host: after `state.apply jail` then `state.apply jail.clean` the host is as it was before jailprov —
the administrator's rc.conf, jail.conf and pw.conf byte for byte, the administrator's own jail untouched and
running — a second clean changes nothing, and clean with test=True writes nothing."""

import copy
import hashlib
import os
import subprocess

import pytest

from salt_jail import rehearsal
from salt_jail.rehearsal import nullfs

from tests.support.states import changed, failed

ADMIN_RC = ('# the administrator\'s rc.conf\nhostname="jailer1.example.org"\nifconfig_em0="inet 192.168.11.30/24"\n'
            'sshd_enable="YES"\njail_enable="NO"\n')
ADMIN_JAIL_CONF = ("# the administrator's jail.conf\nexec.clean;\n\nadmin {\n    jid = 50;\n    path = /usr/jails/admin;\n"
                   "    host.hostname = admin.example.org;\n    persist;\n}\n")


def _sls(loaders, sls, test=False):
    ret = loaders.modules.state.apply(sls, test=test)
    states = getattr(ret, "raw", ret)
    assert isinstance(states, dict), states
    return {s["__id__"]: s for s in states.values()}


def _tree(top):
    """Every path below ``top`` with a digest of its content (files) or its link target — to prove nothing changed."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d != ".rehearsal"]
        for entry in dirnames + filenames:
            path = os.path.join(dirpath, entry)
            rel = os.path.relpath(path, top)
            if os.path.islink(path):
                found[rel] = "-> " + os.readlink(path)
            elif os.path.isfile(path):
                with open(path, "rb") as fh:
                    found[rel] = hashlib.sha256(fh.read()).hexdigest()
            else:
                found[rel] = "dir"
    return found


def _kernel(scratch):
    view = rehearsal.kernel(str(scratch))
    return sorted(j["name"] for j in view.jails), sorted(m[1] for m in view.mounts)


@pytest.fixture
def admin_host(scratch):
    """A host with the administrator's rc.conf and jail.conf, and the administrator's own jail running."""
    rehearsal.setup(str(scratch))
    (scratch / "etc/rc.conf").write_text(ADMIN_RC)
    (scratch / "etc/jail.conf").write_text(ADMIN_JAIL_CONF)
    (scratch / "usr/jails/admin/etc").mkdir(parents=True)
    (scratch / "usr/jails/admin/etc/motd").write_text("the administrator's jail\n")
    jail = scratch / ".rehearsal/bin/jail"
    subprocess.run([str(jail), "-f", "/etc/jail.conf", "-c", "admin"], check=True, capture_output=True)
    originals = {p: (scratch / p).read_bytes() if (scratch / p).exists() else None
                 for p in ("etc/rc.conf", "etc/jail.conf", "etc/pw.conf")}
    return originals


@pytest.fixture
def pillar(seed_pillar, small_release_url):
    data = copy.deepcopy(seed_pillar)
    data["jailprov"]["mirror"] = small_release_url
    return data


@pytest.mark.parametrize("kind", ["thick", "thin"])
def test_clean_gives_the_host_back(make_loaders, pillar, scratch, admin_host, kind):
    if kind == "thin":
        if os.geteuid() != 0 or not nullfs.available():
            pytest.skip("thin prisoners' nullfs mounts are bind mounts: needs root (CAP_SYS_ADMIN)")
        pillar["jailprov"]["prisoners"]["prisoner2"]["type"] = "thin"
    loaders = make_loaders(pillar)
    kernel_before, tree_before = _kernel(scratch), _tree(scratch)
    assert kernel_before[0] == ["admin"]
    built = _sls(loaders, "jail")
    assert not failed(built), failed(built)
    assert _kernel(scratch)[0] == ["admin", "prisoner1", "prisoner2"]
    assert (scratch / "etc/rc.conf").read_bytes() != admin_host["etc/rc.conf"]       # jailprov wrote there
    admin_tree = _tree(scratch / "usr/jails/admin")

    # test=True: predicts, writes nothing, stops nothing
    before, kernel = _tree(scratch), _kernel(scratch)
    dry = _sls(loaders, "jail.clean", test=True)
    assert not failed(dry), failed(dry)
    predicted = dry["jailprov-host-clean"]
    assert predicted["result"] is None and predicted["changes"]
    for name in ("prisoner1", "prisoner2"):
        assert f"prisoner {name} would be destroyed" in predicted["comment"]
    assert "/etc/rc.conf would be restored" in predicted["comment"]
    if kind == "thin":
        assert "release tree /home/jail/.releases/14.2-RELEASE-amd64-base would be removed" in predicted["comment"]
    assert "admin" not in predicted["changes"]["destroyed"]
    assert _tree(scratch) == before and _kernel(scratch) == kernel

    # the run: what the dry run said, and the administrator's files byte for byte
    ran = _sls(loaders, "jail.clean")
    assert not failed(ran), failed(ran)
    done = ran["jailprov-host-clean"]
    assert done["comment"] == predicted["comment"].replace("would be", "was")
    assert done["changes"] == predicted["changes"]
    for path, original in admin_host.items():
        assert ((scratch / path).read_bytes() if (scratch / path).exists() else None) == original, path
    assert _kernel(scratch) == kernel_before                       # the administrator's jail runs on, no mount left
    assert _tree(scratch / "usr/jails/admin") == admin_tree
    assert not (scratch / "home/jail/prisoner1").exists() and not (scratch / "home/jail/prisoner2").exists()
    assert not (scratch / "var/db/jailprov").exists()
    # what is left of jailprov, and only that: jail_root (it cannot tell it made it), the release download
    # cache (a cache; jailprov.release_cache prune=True), /var/db (FreeBSD has it) and the run lock in /var/run
    after = _tree(scratch)
    assert set(tree_before) <= set(after)
    assert {p: after[p] for p in tree_before if after[p] != tree_before[p]} == {}
    left = {p for p in set(after) - set(tree_before) if not p.startswith("var/cache/jailprov")}
    assert left == {"home", "home/jail", "var/cache", "var/db", "var/run/jailprov-host.lock"}
    assert "left: the release download cache /var/cache/jailprov" in done["comment"]

    # a second clean: no change; and its dry run predicts none
    assert changed(_sls(loaders, "jail.clean", test=True)) == []
    again = _sls(loaders, "jail.clean")
    assert changed(again) == [] and not failed(again)
    assert "nothing of jailprov's is left" in again["jailprov-host-clean"]["comment"]


def test_clean_keeps_a_file_the_administrator_changed_since(make_loaders, pillar, scratch, admin_host):
    loaders = make_loaders(pillar)
    assert not failed(_sls(loaders, "jail"))
    rc_conf = scratch / "etc/rc.conf"
    rc_conf.write_text(rc_conf.read_text() + 'ntpd_enable="YES"\n')       # the administrator, after jailprov
    ran = _sls(loaders, "jail.clean")["jailprov-host-clean"]
    assert ran["result"] is True
    assert "/etc/rc.conf: changed by someone else since jailprov last wrote it" in ran["comment"]
    text = rc_conf.read_text()
    assert 'ntpd_enable="YES"' in text and "prisoner1" not in text and "192.168.11.31" not in text
    assert (scratch / "etc/jail.conf").read_bytes() == admin_host["etc/jail.conf"]
    assert changed(_sls(loaders, "jail.clean")) == []


@pytest.mark.parametrize("name", ["admin", "handmade"])
def test_clean_never_touches_an_unmanaged_jail_named_in_the_pillar(make_loaders, pillar, scratch, admin_host, name):
    """A pillar prisoner that is the administrator's own jail (``admin``: its jail.conf block, running, elsewhere)
    or whose root holds the administrator's files without jailprov's stamp (``handmade``) is left alone, and
    said so; the rest is cleaned."""
    loaders = make_loaders(pillar)
    assert not failed(_sls(loaders, "jail"))
    theirs = copy.deepcopy(pillar)
    theirs["jailprov"]["prisoners"][name] = {"ip4": "192.168.11.40", "hostname": f"{name}.example.org", "jid": 40}
    (scratch / "home/jail" / name).mkdir()
    (scratch / "home/jail" / name / "notes").write_text("mine\n")
    before = _tree(scratch / "home/jail" / name), _tree(scratch / "usr/jails/admin")
    ran = _sls(make_loaders(theirs), "jail.clean")["jailprov-host-clean"]
    assert ran["result"] is True, ran["comment"]
    assert f"{name} left alone: refusing to destroy {name}" in ran["comment"]
    assert ran["changes"]["destroyed"] == ["prisoner2", "prisoner1"] and ran["changes"]["left_alone"] == [name]
    assert (_tree(scratch / "home/jail" / name), _tree(scratch / "usr/jails/admin")) == before
    assert _kernel(scratch)[0] == ["admin"]
    assert (scratch / "etc/jail.conf").read_bytes() == admin_host["etc/jail.conf"]


def test_a_refused_clean_says_why_in_test_mode_as_in_a_run_and_changes_nothing(make_loaders, pillar, scratch,
                                                                               admin_host):
    loaders = make_loaders(pillar)
    assert not failed(_sls(loaders, "jail"))
    subprocess.run([str(scratch / ".rehearsal/bin/mount"), "-t", "tmpfs", "tmpfs", "/home/jail/prisoner2"],
                   check=True)
    before, kernel = _tree(scratch / "etc"), _kernel(scratch)
    dry = _sls(loaders, "jail.clean", test=True)["jailprov-host-clean"]
    ran = _sls(loaders, "jail.clean")["jailprov-host-clean"]
    assert dry["result"] is False and ran["result"] is False and ran["comment"] == dry["comment"]
    assert dry["comment"].startswith("clean refused, nothing was changed: refusing to destroy prisoner2: "
                                     "/home/jail/prisoner2 is itself a mount point (tmpfs from tmpfs)")
    assert ran["changes"] == {} and _tree(scratch / "etc") == before and _kernel(scratch) == kernel
