"""The pillar model: defaults merge, and every kind of bad pillar rejected with its key path."""

import copy

import pytest

from salt_jail.core import model
from tests.support.pillar import errors_for


def test_seed_parses(seed_pillar):
    cfg = model.from_pillar(seed_pillar)
    assert list(cfg.prisoners) == ["prisoner1", "prisoner2"]
    p1, p2 = cfg.prisoners["prisoner1"], cfg.prisoners["prisoner2"]
    assert p1.path == "/home/jail/prisoner1"
    assert p1.ip4 == ("192.168.11.31",) and p2.ip4 == ("192.168.11.32",)   # string accepted too
    assert p2.timezone == "Asia/Tokyo"                                      # merged from defaults
    assert p2.params["devfs_ruleset"] == 4 and p2.params["allow.chflags"] is True
    assert cfg.host.pw_range.uid == model.IdRange(10000, 19999)
    assert cfg.interface == "em0" and cfg.release == "14.2-RELEASE"
    # No mirror in pillar.example: 14.2-RELEASE is past end of life, on the archive mirror after the main one.
    assert cfg.mirrors == ("https://download.freebsd.org/releases",
                           "http://ftp-archive.freebsd.org/pub/FreeBSD-Archive/old-releases")
    assert "root_password" not in repr(p1) and p1.root_password.startswith("$6$")


def test_prisoner_overrides_defaults(seed_pillar):
    p = seed_pillar["jailprov"]["prisoners"]["prisoner2"]
    p["timezone"] = "UTC"
    p["params"] = {"devfs_ruleset": 5, "allow.raw_sockets": None, "persist": True}
    cfg = model.from_pillar(seed_pillar)
    p2 = cfg.prisoners["prisoner2"]
    assert p2.timezone == "UTC"
    assert p2.params["devfs_ruleset"] == 5 and p2.params["persist"] is True
    assert "allow.raw_sockets" not in p2.params
    assert cfg.prisoners["prisoner1"].params["allow.raw_sockets"] is True


def _set(pillar, path, value):
    node = pillar["jailprov"]
    keys = path.split(":")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


BAD = [
    # (key path set, value, expected error path, expected words)
    ("jail_rot", "/x", "jailprov:jail_rot", "did you mean 'jail_root'"),
    ("prisoners:prisoner1:hostnme", "a.b", "jailprov:prisoners:prisoner1:hostnme", "did you mean 'hostname'"),
    ("jail_root", "home/jail", "jailprov:jail_root", "not an absolute path"),
    ("jail_root", "/home/../etc", "jailprov:jail_root", "'..'"),
    ("jail_root", "/", "jailprov:jail_root", "must not be '/'"),
    ("release", "14.2", "jailprov:release", "not a FreeBSD release"),
    ("release", "14.2-RELEASE-p1", "jailprov:release", "freebsd-update"),
    ("arch", "amd46", "jailprov:arch", "did you mean 'amd64'"),
    ("mirror", "gopher://x", "jailprov:mirror", "not a mirror URL"),
    ("interface", "em 0", "jailprov:interface", "not a network interface"),
    ("jail_conf_layout", "split", "jailprov:jail_conf_layout", "expected one of"),
    ("prisoners:prisoner1:ip4", ["192.168.11.300"], "jailprov:prisoners:prisoner1:ip4[0]", "not a valid IPv4"),
    ("prisoners:prisoner2:ip4", "fe80::1", "jailprov:prisoners:prisoner2:ip4", "not a valid IPv4"),
    ("prisoners:prisoner1:ip6", ["10.0.0.1"], "jailprov:prisoners:prisoner1:ip6[0]", "not a valid IPv6"),
    ("prisoners:prisoner2:ip4", "192.168.11.31", "jailprov:prisoners:prisoner2:ip4[0]", "already used by prisoner 'prisoner1'"),
    ("prisoners:prisoner2:jid", 1, "jailprov:prisoners:prisoner2:jid", "already used"),
    ("prisoners:prisoner2:hostname", "BSD1.korodes.com", "jailprov:prisoners:prisoner2:hostname", "already used"),
    ("prisoners:prisoner1:jid", 1000000, "jailprov:prisoners:prisoner1:jid", "1..999999"),
    ("prisoners:prisoner1:jid", 0, "jailprov:prisoners:prisoner1:jid", "1..999999"),
    ("prisoners:prisoner1:jid", "1", "jailprov:prisoners:prisoner1:jid", "integer"),
    ("prisoners:prisoner1:hostname", "bsd_1..com", "jailprov:prisoners:prisoner1:hostname", "not a valid DNS name"),
    ("prisoners:prisoner1:pw_range", {"uid": [29999, 20000], "gid": [20000, 29999]},
     "jailprov:prisoners:prisoner1:pw_range:uid", "reversed"),
    ("prisoners:prisoner1:pw_range", {"uid": [15000, 25000], "gid": [20000, 29999]},
     "jailprov:prisoners:prisoner1:pw_range:uid", "overlaps the host"),
    ("prisoners:prisoner2:pw_range", {"uid": [30000, 39999], "gid": [25000, 39999]},
     "jailprov:prisoners:prisoner2:pw_range:gid", "overlaps prisoner 'prisoner1'"),
    ("prisoners:prisoner1:pw_range", {"uid": [20000, 29999]}, "jailprov:prisoners:prisoner1:pw_range:gid", "required"),
    ("prisoners:prisoner1:timezone", "/usr/share/zoneinfo/UTC", "jailprov:prisoners:prisoner1:timezone", "zoneinfo"),
    ("defaults:timezone", "../../etc/passwd", "jailprov:prisoners:prisoner1:timezone", "no '..'"),
    ("prisoners:prisoner1:root_password", "hunter2", "jailprov:prisoners:prisoner1:root_password", "crypt(3)"),
    ("prisoners:prisoner1:params", {"jid": 5}, "jailprov:prisoners:prisoner1:params:jid", "set that instead"),
    ("prisoners:prisoner1:params", {"allow.sysvipc": True}, "jailprov:prisoners:prisoner1:params:allow.sysvipc", "deprecated"),
    ("prisoners:prisoner1:params", {"bad name": 1}, "jailprov:prisoners:prisoner1:params:bad name", "parameter name"),
    ("prisoners:prisoner1:params", {"exec.start": {"a": 1}}, "jailprov:prisoners:prisoner1:params:exec.start", "expected a boolean"),
    ("prisoners:prisoner1:sysvipc", "yes please", "jailprov:prisoners:prisoner1:sysvipc", "inherit"),
    ("prisoners:prisoner1:defaultpasswd", "maybe", "jailprov:prisoners:prisoner1:defaultpasswd", "defaultpasswd"),
    ("defaults:jid", 3, "jailprov:defaults:jid", "unique to each prisoner"),
    ("host:rc_conf", "/etc/rc.conf.local", "jailprov:host:rc_conf", "not supported"),
    ("host:jail_list", "all", "jailprov:host:jail_list", "explicit"),
    ("host:rc_aliases", "sometimes", "jailprov:host:rc_aliases", "true or false"),
    ("sha256", {"base": "abc"}, "jailprov:sha256:base", "64 hex"),
    ("dists", ["lib32"], "jailprov:dists", "must include 'base'"),
    ("prisoners", ["prisoner1"], "jailprov:prisoners", "expected a mapping"),
    ("absent", "prisoner9", "jailprov:absent", "expected a list"),
]


@pytest.mark.parametrize("key,value,path,words", BAD, ids=[f"{b[0]}={b[1]!r}"[:60] for b in BAD])
def test_bad_pillar_names_key_and_expectation(seed_pillar, key, value, path, words):
    _set(seed_pillar, key, value)
    errors = errors_for(seed_pillar)
    matching = [e for e in errors if e.startswith(path + ":")]
    assert matching, errors
    assert any(words in e for e in matching), matching


@pytest.mark.parametrize("name,words", [
    ("web/1", "not a valid jail name"),
    ("web.1", "not a valid jail name"),
    ("web 1", "not a valid jail name"),
    ("-web", "not a valid jail name"),
    ("123", "all digits"),
    ("all", "reserved"),
])
def test_bad_prisoner_names(seed_pillar, name, words):
    seed_pillar["jailprov"]["prisoners"][name] = copy.deepcopy(seed_pillar["jailprov"]["prisoners"]["prisoner2"])
    errors = errors_for(seed_pillar)
    assert any(e.startswith(f"jailprov:prisoners:{name}:") and words in e for e in errors), errors


def test_all_errors_in_one_pass(seed_pillar):
    _set(seed_pillar, "arch", "vax")
    _set(seed_pillar, "prisoners:prisoner1:ip4", "1.2.3")
    _set(seed_pillar, "prisoners:prisoner2:jid", -1)
    errors = errors_for(seed_pillar)
    assert len(errors) == 3, errors


def test_password_never_echoed(seed_pillar):
    _set(seed_pillar, "prisoners:prisoner1:root_password", "s3cret-plaintext")
    errors = errors_for(seed_pillar)
    assert not any("s3cret-plaintext" in e for e in errors)


@pytest.mark.parametrize("release", ["14.2-RELEASE", "14.2-RC1", "15.0-BETA3", "15.0-ALPHA1", "13.4-RELEASE"])
def test_release_names_accepted(seed_pillar, release):
    _set(seed_pillar, "release", release)
    assert model.from_pillar(seed_pillar).release == release


# lib/libcrypt/crypt.c, crypt_types[]: des (no magic; extended DES "_..." in crypt-des.c), $1$ md5, $2 blowfish
# (a/b/y in crypt-blowfish.c), $3$ nthash, $5$ sha256, $6$ sha512 -- nothing else.
@pytest.mark.parametrize("hash_", ["locked", "$6$salt$abc/def.", "$6$rounds=5000$salt$abc", "$5$salt$abc",
                                   "$2b$10$abcdefghijklmnopqrstuv", "$2a$12$abc", "$2y$04$abc",
                                   "$1$salt$abcdefghijklmnopqrstuv", "$3$$8846f7eaee8fb117ad06bdd830b7586c",
                                   "aBcD1234./xyz", "_J9..rootSALThashhas"])
def test_password_forms_accepted(seed_pillar, hash_):
    _set(seed_pillar, "prisoners:prisoner1:root_password", hash_)
    assert model.from_pillar(seed_pillar).prisoners["prisoner1"].root_password == hash_


@pytest.mark.parametrize("hash_", ["$y$j9T$abc$def", "$7$CU..../....abc$def", "$2x$10$abc", "$4$salt$abc",
                                   "$sha1$1$salt$abc", "$3$$nothex", "_short", "aBcD1234./xy"])
def test_password_forms_freebsd_cannot_verify_are_refused(seed_pillar, hash_):
    _set(seed_pillar, "prisoners:prisoner1:root_password", hash_)
    errors = errors_for(seed_pillar)
    assert len(errors) == 1 and errors[0].startswith("jailprov:prisoners:prisoner1:root_password")
    assert "$6$ (SHA-512)" in errors[0] and "$2a$/$2b$/$2y$ (bcrypt)" in errors[0] and hash_ not in errors[0]


# download.freebsd.org's layout: RELEASE, RC and BETA builds under releases/ (then the archive mirror once past end
# of life), ALPHA, CURRENT and STABLE builds under snapshots/ (FreeBSD release engineering: ALPHA builds are
# snapshots of the development branch).
@pytest.mark.parametrize("release, mirrors", [
    ("14.2-RELEASE", ("https://download.freebsd.org/releases",
                      "http://ftp-archive.freebsd.org/pub/FreeBSD-Archive/old-releases")),
    ("15.0-BETA3", ("https://download.freebsd.org/releases",
                    "http://ftp-archive.freebsd.org/pub/FreeBSD-Archive/old-releases")),
    ("15.0-ALPHA1", ("https://download.freebsd.org/snapshots",)),
    ("15.0-CURRENT", ("https://download.freebsd.org/snapshots",)),
    ("14.3-STABLE", ("https://download.freebsd.org/snapshots",)),
])
def test_default_mirrors_follow_the_kind_of_build(seed_pillar, release, mirrors):
    _set(seed_pillar, "release", release)
    assert model.from_pillar(seed_pillar).mirrors == mirrors


def test_resolvers_key(seed_pillar):
    _set(seed_pillar, "defaults:resolvers", ["192.168.11.1"])
    _set(seed_pillar, "prisoners:prisoner2:resolvers", "2001:db8::53")
    cfg = model.from_pillar(seed_pillar)
    assert cfg.prisoners["prisoner1"].resolvers == ("192.168.11.1",)
    assert cfg.prisoners["prisoner2"].resolvers == ("2001:db8::53",)
    _set(seed_pillar, "prisoners:prisoner2:resolvers", ["192.168.11.1", "dns.example.org"])
    assert errors_for(seed_pillar) == [
        "jailprov:prisoners:prisoner2:resolvers[1]: 'dns.example.org' is not an IPv4 or IPv6 address "
        "(a nameserver for the prisoner's resolv.conf)"]


# rc.d/jail starts prisoners at boot with jail -c only (libexec/rc/rc.d/jail); jail(8) mounts devfs when the
# block says mount.devfs (usr.sbin/jail/jail.c, its mount.devfs step) -- a devfs mounted by hand never comes back.
def test_mount_devfs_is_kept_in_every_block(seed_pillar):
    del seed_pillar["jailprov"]["defaults"]["params"]["mount.devfs"]
    cfg = model.from_pillar(seed_pillar)
    assert all(p.params["mount.devfs"] is True for p in cfg.prisoners.values())


@pytest.mark.parametrize("where, key, value", [
    ("prisoners:prisoner1:params", "mount.devfs", False),
    ("prisoners:prisoner1:params", "mount.devfs", None),
    ("prisoners:prisoner1:params", "mount.devfs", "false"),
    ("prisoners:prisoner1:params", "mount.nodevfs", True),
    ("defaults:params", "mount.devfs", False),
])
def test_dropping_mount_devfs_is_refused_with_its_key(seed_pillar, where, key, value):
    _set(seed_pillar, f"{where}:{key}", value)
    errors = errors_for(seed_pillar)
    mine = [e for e in errors if e.startswith(f"jailprov:{where}:{key}:")]
    assert len(mine) == 1 and "empty /dev" in mine[0] and "every start" in mine[0]


def test_absent_prisoners(seed_pillar):
    _set(seed_pillar, "absent", ["oldjail"])
    _set(seed_pillar, "prisoners:prisoner2:absent", True)
    cfg = model.from_pillar(seed_pillar)
    assert cfg.absent == ("prisoner2", "oldjail")
    assert [p.name for p in cfg.present] == ["prisoner1"]
    assert cfg.prisoners["oldjail"].path == "/home/jail/oldjail"


def test_absent_prisoner_may_reuse_nothing_but_is_not_checked_for_duplicates(seed_pillar):
    _set(seed_pillar, "prisoners:prisoner2:absent", True)
    _set(seed_pillar, "prisoners:prisoner2:jid", 1)
    assert model.from_pillar(seed_pillar).prisoners["prisoner2"].absent


def test_missing_jailprov_key():
    assert "missing from the pillar" in errors_for({"other": 1})[0]


def test_mirrors_list_and_both_rejected(seed_pillar):
    _set(seed_pillar, "mirror", "https://download.freebsd.org/releases")
    _set(seed_pillar, "mirrors", ["file:///srv/releases/", "https://download.freebsd.org/releases"])
    errors = errors_for(seed_pillar)
    assert any("not both" in e for e in errors)
    del seed_pillar["jailprov"]["mirror"]
    assert model.from_pillar(seed_pillar).mirrors == ("file:///srv/releases", "https://download.freebsd.org/releases")


def test_validate_returns_list(seed_pillar):
    assert model.validate(seed_pillar["jailprov"]) == []
    assert model.validate({"release": "x"})  # non-empty
