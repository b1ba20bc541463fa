"""passwd: master.passwd/group parsing and the pure id audit."""

import pathlib

import pytest

from salt_jail.core.errors import ParseError
from salt_jail.core.model import IdRange, PwRange
from salt_jail.core.formats.passwd import Group, User, audit_ids, find_user, parse_group, parse_master_passwd

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "files"


def test_parse_master_passwd_fixture():
    users = parse_master_passwd((FIXTURES / "master.passwd").read_text())
    assert [u.name for u in users] == ["root", "toor", "daemon", "www", "nobody"]
    root = find_user(users, "root")
    assert (root.uid, root.gid, root.gecos, root.home, root.shell) == (0, 0, "Charlie &", "/root", "/bin/sh")
    assert root.password == "$6$fixture$oldroothash"
    assert "oldroothash" not in repr(root)
    assert find_user(users, "alice") is None


def test_parse_group_fixture():
    groups = parse_group((FIXTURES / "group").read_text())
    assert [(g.name, g.gid, g.members) for g in groups][:2] == [("wheel", 0, ("root",)), ("daemon", 1, ())]


@pytest.mark.parametrize("text,message", [
    ("root:*:0:0::0:0:x:/root\n", "expected 10 colon-separated fields, found 9"),
    ("root:*:zero:0::0:0:x:/root:/bin/sh\n", "uid 'zero' is not a number"),
    ("root:*:0:-1::0:0:x:/root:/bin/sh\n", "gid '-1' is not a number"),
])
def test_parse_master_passwd_errors_name_file_and_line(text, message):
    with pytest.raises(ParseError) as err:
        parse_master_passwd("# header\n" + text, "/jails/web/etc/master.passwd")
    assert err.value.filename == "/jails/web/etc/master.passwd"
    assert err.value.line == 2
    assert message in str(err.value)


def test_comments_blank_and_nis_lines_are_skipped():
    text = "# c\n\n+:::::::::\n-bad:::::::::\nbob:*:1001:1001::0:0::/home/bob:/bin/sh\n"
    assert [u.name for u in parse_master_passwd(text)] == ["bob"]
    assert [g.name for g in parse_group("# c\n+:::\nstaff:*:20:a,b\n")] == ["staff"]


def _user(name, uid):
    return User(name, "*", uid, uid, "", "0", "0", "", "/home/" + name, "/bin/sh")


def _owner(pw_range, *accounts):
    return (pw_range, [_user(n, i) for n, i in accounts], [Group(n, i, ()) for n, i in accounts])


HOST = PwRange(IdRange(1000, 1999), IdRange(1000, 1999))
WEB = PwRange(IdRange(2000, 2999), IdRange(2000, 2999))


def test_audit_reports_shared_and_out_of_range_ids():
    owners = {
        "host": _owner(HOST, ("root", 0), ("www", 80), ("alice", 1001), ("nobody", 65534), ("nogroup", 65533)),
        "web": _owner(WEB, ("root", 0), ("www", 80), ("bob", 1001), ("carol", 2001), ("nobody", 65534)),
        "db": _owner(None, ("dave", 2001), ("erin", 5000)),
    }
    report = audit_ids(owners)
    assert report["shared_uids"] == [
        {"id": 1001, "accounts": [{"owner": "host", "name": "alice"}, {"owner": "web", "name": "bob"}]},
        {"id": 2001, "accounts": [{"owner": "web", "name": "carol"}, {"owner": "db", "name": "dave"}]},
    ]
    assert report["shared_gids"] == report["shared_uids"]
    # bob (1001) is outside web's range; db has no range; system ids and nobody are never reported.
    assert report["uids_out_of_range"] == [{"owner": "web", "name": "bob", "id": 1001, "range": [2000, 2999]}]
    assert report["gids_out_of_range"] == report["uids_out_of_range"]


def test_audit_of_a_clean_fleet_is_empty():
    owners = {"host": _owner(HOST, ("root", 0), ("alice", 1001)), "web": _owner(WEB, ("root", 0), ("bob", 2001))}
    assert audit_ids(owners) == {"shared_uids": [], "shared_gids": [], "uids_out_of_range": [],
                                 "gids_out_of_range": []}


def test_duplicate_id_within_one_owner_is_not_shared():
    assert audit_ids({"host": _owner(HOST, ("a", 1500), ("b", 1500))})["shared_uids"] == []
