"""textedit: chroot-semantics resolution, safe reads, atomic writes, diffs."""

import os
import stat

import pytest

from salt_jail.core.io import textedit
from salt_jail.core.errors import JailprovError
from salt_jail.core.io.textedit import EditResult, Root

HOST_TEXT = "host secret\n"


@pytest.fixture
def env(tmp_path):
    """A host file outside the prisoner and a prisoner root with etc/."""
    outside = tmp_path / "host" / "etc"
    outside.mkdir(parents=True)
    (outside / "hosts").write_text(HOST_TEXT)
    prisoner = tmp_path / "jails" / "web"
    (prisoner / "etc").mkdir(parents=True)
    return Root(str(prisoner), "/home/jail/web"), prisoner, outside / "hosts"


def _set(text):
    return lambda old: (text, "")


def _files(directory):
    return sorted(os.listdir(directory))


# ---------------------------------------------------------------------------------------------- resolution

@pytest.mark.parametrize("link,rel", [
    ("/etc/real", "etc/hosts"),               # absolute link: taken from the prisoner root
    ("../../../../../etc/real", "etc/hosts"),  # '..' stops at the prisoner root
    ("real", "etc/hosts"),                    # relative link in the same directory
])
def test_final_links_resolve_inside_the_root(env, link, rel):
    root, prisoner, _ = env
    (prisoner / "etc" / "real").write_text("inside\n")
    (prisoner / "etc" / "hosts").symlink_to(link)
    assert textedit.read_text(root, rel).text == "inside\n"


def test_dotdot_in_the_path_cannot_leave_the_root(env):
    root, prisoner, _ = env
    (prisoner / "etc" / "hosts").write_text("inside\n")
    assert textedit.read_text(root, "../../../../etc/hosts").text == "inside\n"


def test_directory_link_to_dotdot_resolves_inside(env):
    root, prisoner, _ = env
    (prisoner / "real").mkdir()
    (prisoner / "real" / "hosts").write_text("inside\n")
    (prisoner / "etc").rmdir()
    (prisoner / "etc").symlink_to("../../../../real")
    assert textedit.read_text(root, "etc/hosts").text == "inside\n"


def test_absolute_link_to_a_host_path_never_reaches_the_host(env):
    root, prisoner, host_file = env
    (prisoner / "etc" / "hosts").symlink_to(host_file)  # the host's real path, absolute
    assert textedit.read_text(root, "etc/hosts", missing_ok=True) is None
    result = textedit.edit(root, "etc/hosts", _set("mine\n"), create=True)
    assert result.changed and "replaced the symbolic link" in result.note
    assert host_file.read_text() == HOST_TEXT
    assert not (prisoner / "etc" / "hosts").is_symlink()
    assert (prisoner / "etc" / "hosts").read_text() == "mine\n"


def test_etc_link_climbing_out_is_a_loop_not_an_escape(env):
    root, prisoner, host_file = env
    (prisoner / "etc").rmdir()
    (prisoner / "etc").symlink_to("../../../../etc")  # inside the prisoner this is etc -> /etc -> itself
    with pytest.raises(JailprovError, match="symbolic links"):
        textedit.edit(root, "etc/hosts", _set("mine\n"), create=True)
    assert host_file.read_text() == HOST_TEXT


def test_symlink_loop_is_an_error(env):
    root, prisoner, _ = env
    (prisoner / "etc" / "a").symlink_to("b")
    (prisoner / "etc" / "b").symlink_to("a")
    with pytest.raises(JailprovError, match=r"/home/jail/web/etc/a: more than 32 symbolic links"):
        textedit.read_text(root, "etc/a")


def test_missing_directory_on_the_way(env):
    root, _, _ = env
    assert textedit.read_text(root, "nodir/hosts", missing_ok=True) is None
    assert not textedit.is_regular_file(root, "nodir/hosts")
    for test in (True, False):  # a dry run fails like the real one
        with pytest.raises(JailprovError, match="directory 'nodir' on the way does not exist"):
            textedit.edit(root, "nodir/hosts", _set("x"), create=True, test=test)


def test_file_on_the_way(env):
    root, prisoner, _ = env
    (prisoner / "etc" / "file").write_text("x")
    with pytest.raises(JailprovError, match="'file' on the way is not a directory"):
        textedit.read_text(root, "etc/file/hosts")


# ---------------------------------------------------------------------------------------------- reading

@pytest.mark.parametrize("data,message", [
    (b"ok\x00binary\n", "binary file"),
    (b"caf\xe9\n", "not valid UTF-8"),
])
def test_non_text_is_refused_and_nothing_is_written(env, data, message):
    root, prisoner, _ = env
    path = prisoner / "etc" / "syslog.conf"
    path.write_bytes(data)
    with pytest.raises(JailprovError, match=f"/home/jail/web/etc/syslog.conf is .*{message}"):
        textedit.edit(root, "etc/syslog.conf", _set("new\n"))
    assert path.read_bytes() == data
    assert _files(prisoner / "etc") == ["syslog.conf"]


def test_fifo_is_refused_without_blocking(env):
    root, prisoner, _ = env
    os.mkfifo(prisoner / "etc" / "hosts")
    with pytest.raises(JailprovError, match="not a regular file \\(a FIFO\\)"):
        textedit.read_text(root, "etc/hosts")


def test_missing_file_names_the_hint(env):
    root, _, _ = env
    with pytest.raises(JailprovError, match="/home/jail/web/etc/crontab does not exist; step 'base' installs it"):
        textedit.edit(root, "etc/crontab", _set(""), hint="step 'base' installs it")


def test_dangling_link_names_its_target(env):
    root, prisoner, _ = env
    (prisoner / "etc" / "crontab").symlink_to("/nowhere")
    with pytest.raises(JailprovError, match="is a symbolic link to /nowhere, which does not exist inside"):
        textedit.edit(root, "etc/crontab", _set(""))


# ---------------------------------------------------------------------------------------------- writing

def test_write_keeps_mode_and_owner_and_leaves_no_temp_file(env):
    root, prisoner, _ = env
    path = prisoner / "etc" / "hosts"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    os.chown(path, 1234, 5678)
    result = textedit.edit(root, "etc/hosts", _set("new\n"))
    st = os.stat(path)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 1234, 5678)
    assert path.read_text() == "new\n"
    assert result.changed and _files(prisoner / "etc") == ["hosts"]


def test_write_is_a_rename_and_only_on_difference(env):
    root, prisoner, _ = env
    path = prisoner / "etc" / "hosts"
    path.write_text("same\n")
    inode = os.stat(path).st_ino
    assert not textedit.edit(root, "etc/hosts", _set("same\n")).changed
    assert os.stat(path).st_ino == inode  # untouched
    textedit.edit(root, "etc/hosts", _set("other\n"))
    assert os.stat(path).st_ino != inode  # replaced by rename, not rewritten in place


def test_test_mode_writes_nothing_and_reports_the_same(env):
    root, prisoner, _ = env
    path = prisoner / "etc" / "hosts"
    path.write_text("old\n")
    before = os.stat(path)
    dry = textedit.edit(root, "etc/hosts", _set("new\n"), test=True)
    assert path.read_text() == "old\n" and os.stat(path).st_mtime_ns == before.st_mtime_ns
    real = textedit.edit(root, "etc/hosts", _set("new\n"))
    assert dry == real


def test_mode_change_alone_is_a_change(env):
    root, prisoner, _ = env
    path = prisoner / "etc" / "resolv.conf"
    path.write_text("nameserver 192.0.2.1\n")
    os.chmod(path, 0o600)
    result = textedit.edit(root, "etc/resolv.conf", _set("nameserver 192.0.2.1\n"), mode=0o644)
    assert result.changed and "mode 0600 -> 0644" in result.note
    assert result.diff == "old mode 0600\nnew mode 0644\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_link_with_matching_content_is_left_alone(env):
    root, prisoner, _ = env
    (prisoner / "etc" / "real").write_text("same\n")
    (prisoner / "etc" / "hosts").symlink_to("real")
    assert not textedit.edit(root, "etc/hosts", _set("same\n")).changed
    assert (prisoner / "etc" / "hosts").is_symlink()


def test_new_file_gets_default_mode(env):
    root, prisoner, _ = env
    result = textedit.edit(root, "etc/pw.conf", lambda old: ("x\n", "") if old is None else ("bad", ""), create=True)
    assert (result.old, result.new_mode) == (None, 0o644)
    assert stat.S_IMODE(os.stat(prisoner / "etc" / "pw.conf").st_mode) == 0o644


def test_directory_in_place_of_the_file_is_an_error(env):
    root, prisoner, _ = env
    (prisoner / "etc" / "hosts").mkdir()
    with pytest.raises(JailprovError, match="is a directory"):
        textedit.edit(root, "etc/hosts", _set("x"), create=True)


# ---------------------------------------------------------------------------------------------- symlinks, removal

def test_ensure_symlink_replaces_a_file_then_is_stable(env):
    root, prisoner, _ = env
    (prisoner / "etc" / "localtime").write_bytes(b"TZif")
    dry = textedit.ensure_symlink(root, "etc/localtime", "/usr/share/zoneinfo/UTC", test=True)
    assert dry.changed and (prisoner / "etc" / "localtime").read_bytes() == b"TZif"
    assert textedit.ensure_symlink(root, "etc/localtime", "/usr/share/zoneinfo/UTC") == dry
    assert os.readlink(prisoner / "etc" / "localtime") == "/usr/share/zoneinfo/UTC"
    assert not textedit.ensure_symlink(root, "etc/localtime", "/usr/share/zoneinfo/UTC").changed
    assert "-a regular file, 4 bytes\n+symbolic link to /usr/share/zoneinfo/UTC\n" in dry.diff


def test_ensure_symlink_does_not_write_through_an_existing_link(env):
    root, prisoner, host_file = env
    (prisoner / "etc" / "localtime").symlink_to(host_file)
    textedit.ensure_symlink(root, "etc/localtime", "/usr/share/zoneinfo/UTC")
    assert host_file.read_text() == HOST_TEXT
    assert os.readlink(prisoner / "etc" / "localtime") == "/usr/share/zoneinfo/UTC"


def test_ensure_absent_removes_a_link_not_its_target(env):
    root, prisoner, host_file = env
    (prisoner / "etc" / "wall_cmos_clock").symlink_to(host_file)
    result = textedit.ensure_absent(root, "etc/wall_cmos_clock")
    assert result.changed and result.old == f"symbolic link to {host_file}\n"
    assert host_file.read_text() == HOST_TEXT
    assert not os.path.lexists(prisoner / "etc" / "wall_cmos_clock")
    assert not textedit.ensure_absent(root, "etc/wall_cmos_clock").changed


# ---------------------------------------------------------------------------------------------- diffs, lines

def test_diff_labels_and_markers():
    diff = EditResult("etc/hosts", "/j/etc/hosts", "a\nb", "a\nc\n").diff
    assert diff.splitlines()[:2] == ["--- a/etc/hosts", "+++ b/etc/hosts"]
    assert "-b\n\\ No newline at end of file\n+c\n" in diff


@pytest.mark.parametrize("old,new,mode,head", [
    (None, "", 0o644, ["new file mode 0644", "--- /dev/null", "+++ b/etc/f"]),
    (None, "x\n", 0o644, ["new file mode 0644", "--- /dev/null", "+++ b/etc/f", "@@ -0,0 +1 @@", "+x"]),
])
def test_diff_of_created_files(old, new, mode, head):
    assert EditResult("etc/f", "/etc/f", old, new, None, mode).diff.splitlines() == head


def test_deleted_empty_file_diff():
    assert EditResult("etc/f", "/etc/f", "", None, 0o644, None).diff.splitlines() == [
        "deleted file mode 0644", "--- a/etc/f", "+++ /dev/null"]


@pytest.mark.parametrize("text", ["", "a", "a\n", "a\nb", "a\r\nb\n", "\n\n", "a\x0cb\n"])
def test_split_join_round_trip(text):
    assert textedit.join_lines(*textedit.split_lines(text)) == text
