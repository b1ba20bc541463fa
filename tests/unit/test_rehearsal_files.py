"""mount/umount, devfs, chflags, tar and pw stand-ins: host paths mapped below the scratch root."""

import io
import os
import subprocess
import tarfile

import pytest

from salt_jail import rehearsal

from .standins import run


@pytest.fixture
def root(rehearsal_root):
    return rehearsal_root




def make(root, *dirs):
    for directory in dirs:
        os.makedirs(os.path.join(root, directory.lstrip("/")), exist_ok=True)


# -- mount / umount ----------------------------------------------------------------------------------

@pytest.mark.parametrize("option", [["-o", "ruleset=4"], ["-oruleset=4"]])
def test_mount_devfs_with_ruleset(root, option):
    make(root, "/home/jail/p1/dev")
    result = run(root, "mount", "-t", "devfs", *option, "devfs", "/home/jail/p1/dev")
    assert (result.returncode, result.stderr) == (0, "")
    assert rehearsal.kernel(root).mounts[-1] == ("devfs", "/home/jail/p1/dev", "devfs")
    assert run(root, "mount", "-p").stdout.splitlines()[-1] == "devfs\t\t\t/home/jail/p1/dev\tdevfs\trw\t\t0 0"
    assert run(root, "mount").stdout.splitlines()[-1] == "devfs on /home/jail/p1/dev (devfs)"
    # A mounted devfs cannot be removed with its jail tree, as on FreeBSD.
    with pytest.raises(PermissionError):
        os.rmdir(os.path.join(root, "home/jail/p1/dev"))
    assert run(root, "umount", "/home/jail/p1/dev").returncode == 0
    os.rmdir(os.path.join(root, "home/jail/p1/dev"))
    assert rehearsal.kernel(root).mounts == [("/dev/ada0p2", "/", "ufs"), ("devfs", "/dev", "devfs")]


def test_mount_nullfs_and_full_table(root):
    make(root, "/home/jail/p1/mnt", "/data")
    assert run(root, "mount", "-t", "nullfs", "-o", "ro", "/data", "/home/jail/p1/mnt").returncode == 0
    assert run(root, "mount", "-p").stdout == (
        "/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1 1\n"
        "devfs\t\t\t/dev\t\t\tdevfs\trw\t\t0 0\n"
        "/data\t\t\t/home/jail/p1/mnt\tnullfs\tro\t\t0 0\n")
    assert run(root, "mount", "-t", "nullfs").stdout == "/data on /home/jail/p1/mnt (nullfs, local, read-only)\n"
    # jail(8) unmounts "mount" lines with "umount -t TYPE node": another type is silently left alone.
    assert run(root, "umount", "-t", "devfs", "/home/jail/p1/mnt").returncode == 1
    assert run(root, "umount", "-t", "nullfs", "/home/jail/p1/mnt").returncode == 0


@pytest.mark.parametrize("argv, status, stderr", [
    (["mount", "-t", "devfs", "devfs", "/home/jail/nope/dev"], 1,
     "mount: /home/jail/nope/dev: No such file or directory\n"),
    (["umount", "/tmp"], 1, "umount: /tmp: not a file system root directory\n"),
    (["umount", "/home/jail/nope"], 1, "umount: /home/jail/nope: statfs: No such file or directory\n"
                                       "umount: /home/jail/nope: unknown file system\n"),
])
def test_mount_errors(root, argv, status, stderr):
    result = run(root, *argv)
    assert (result.returncode, result.stderr) == (status, stderr)


def test_mount_usage(root):
    result = run(root, "mount", "-Z")
    assert result.returncode == 1
    assert result.stderr.startswith("mount: illegal option -- Z\nusage: mount [-adflpruvw]")


# -- devfs -------------------------------------------------------------------------------------------

def test_devfs_rule_show(root):
    assert run(root, "devfs", "rule", "-s", "4", "show").stdout == (
        "100 include 1\n200 include 2\n300 include 3\n400 path fuse unhide\n500 path zfs unhide\n")
    unloaded = run(root, "devfs", "rule", "-s", "9", "show")
    assert (unloaded.returncode, unloaded.stdout) == (0, "")
    # Mounting with a ruleset that was never loaded creates it empty (it hides nothing).
    make(root, "/home/jail/p1/dev")
    run(root, "mount", "-t", "devfs", "-oruleset=9", "devfs", "/home/jail/p1/dev")
    assert run(root, "devfs", "rule", "showsets").stdout == "1\n2\n3\n4\n5\n9\n"
    assert run(root, "devfs", "rule", "-s", "9", "show").stdout == ""


# -- chflags -----------------------------------------------------------------------------------------

@pytest.fixture
def tree(root):
    make(root, "/t/sub")
    path = os.path.join(root, "t/sub/file")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("x")
    return path


def test_schg_blocks_removal_until_flags_are_cleared(root, tree):
    assert run(root, "chflags", "-R", "schg", "/t").returncode == 0
    assert rehearsal.kernel(root).file_flags == {"/t": ["schg"], "/t/sub": ["schg"], "/t/sub/file": ["schg"]}
    with pytest.raises(PermissionError):
        os.unlink(tree)
    assert run(root, "chflags", "-R", "0", "/t").returncode == 0
    os.unlink(tree)
    assert rehearsal.kernel(root).file_flags == {}


@pytest.mark.parametrize("flags, left", [("uchg", ["uchg"]), ("sunlnk", ["sunlnk"]), ("sappnd", ["sappnd"]),
                                         ("uunlnk", ["uunlnk"])])
def test_noschg_is_not_enough(root, tree, flags, left):
    assert run(root, "chflags", f"schg,{flags}", "/t/sub/file").returncode == 0
    assert run(root, "chflags", "noschg", "/t/sub/file").returncode == 0
    assert rehearsal.kernel(root).file_flags == {"/t/sub/file": left}
    assert subprocess.run(["rm", "-f", tree], capture_output=True, check=False).returncode != 0
    assert os.path.exists(tree)
    assert run(root, "chflags", "0", "/t/sub/file").returncode == 0
    os.unlink(tree)


def test_system_flags_are_locked_at_securelevel_1(root, tree):
    assert run(root, "chflags", "schg", "/t/sub/file").returncode == 0
    rehearsal.set_securelevel(root, 1)
    result = run(root, "chflags", "noschg", "/t/sub/file")
    assert (result.returncode, result.stderr) == (1, "chflags: /t/sub/file: Operation not permitted\n")
    assert rehearsal.kernel(root).file_flags == {"/t/sub/file": ["schg"]}
    rehearsal.set_securelevel(root, -1)
    assert run(root, "chflags", "noschg", "/t/sub/file").returncode == 0


def test_chflags_usage_and_bad_flags(root, tree):
    usage = run(root, "chflags", "-Z", "schg", "/t")
    assert usage.returncode == 1
    assert usage.stderr.endswith("usage: chflags [-fhvx] [-R [-H | -L | -P]] flags file ...\n")
    bad = run(root, "chflags", "nosuchflag", "/t")
    assert (bad.returncode, bad.stderr) == (1, "chflags: invalid flag: nosuchflag\n")


# -- tar ---------------------------------------------------------------------------------------------

def _archive(path, members):
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, pax in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o555
            info.pax_headers = pax
            tar.addfile(info, io.BytesIO(data))


def test_tar_maps_paths_and_restores_file_flags(root):
    make(root, "/var/cache/jailprov", "/home/jail/p1")
    _archive(os.path.join(root, "var/cache/jailprov/base.tar"), [
        ("./bin/sh", b"sh", {"SCHILY.fflags": "schg"}), ("./etc/motd", b"hello\n", {})])
    result = run(root, "tar", "-xpf", "/var/cache/jailprov/base.tar", "-C", "/home/jail/p1")
    assert (result.returncode, result.stderr) == (0, "")
    with open(os.path.join(root, "home/jail/p1/etc/motd"), encoding="utf-8") as fh:
        assert fh.read() == "hello\n"
    assert rehearsal.kernel(root).file_flags == {"/home/jail/p1/bin/sh": ["schg"]}
    with pytest.raises(PermissionError):
        os.unlink(os.path.join(root, "home/jail/p1/bin/sh"))
    assert rehearsal.commands(root) == [["tar", "-xpf", "/var/cache/jailprov/base.tar", "-C", "/home/jail/p1"]]


def test_tar_reads_an_archives_flags_once_and_a_rewritten_archive_again(root):
    make(root, "/var/cache/jailprov", "/home/jail/p1", "/home/jail/p2", "/home/jail/p3")
    archive = os.path.join(root, "var/cache/jailprov/base.tar")
    _archive(archive, [("./bin/sh", b"sh", {"SCHILY.fflags": "schg"}), ("./etc/motd", b"hello\n", {})])
    for name in ("p1", "p2"):
        result = run(root, "tar", "-xpf", "/var/cache/jailprov/base.tar", "-C", f"/home/jail/{name}")
        assert (result.returncode, result.stderr) == (0, "")
    cached = os.listdir(os.path.join(root, ".rehearsal", "fflags-cache"))
    assert len(cached) == 1                      # one read of the archive's records for both prisoners
    assert rehearsal.kernel(root).file_flags == {"/home/jail/p1/bin/sh": ["schg"], "/home/jail/p2/bin/sh": ["schg"]}
    os.unlink(archive)                           # a new archive at the same path: its own records are read
    _archive(archive, [("./bin/sh", b"sh", {}), ("./etc/motd", b"hello\n", {"SCHILY.fflags": "uappnd"})])
    assert run(root, "tar", "-xpf", "/var/cache/jailprov/base.tar", "-C", "/home/jail/p3").returncode == 0
    flags = rehearsal.kernel(root).file_flags
    assert "/home/jail/p3/bin/sh" not in flags and flags["/home/jail/p3/etc/motd"] == ["uappnd"]


@pytest.mark.parametrize("junk", ["{not json", "{}", '[["ab", 1]]', '[[["bin", "sh"], "schg"]]'])
def test_tar_reads_the_archive_again_when_its_flag_cache_is_damaged(root, junk):
    make(root, "/var/cache/jailprov", "/home/jail/p1", "/home/jail/p2")
    _archive(os.path.join(root, "var/cache/jailprov/base.tar"), [("./bin/sh", b"sh", {"SCHILY.fflags": "schg"})])
    assert run(root, "tar", "-xpf", "/var/cache/jailprov/base.tar", "-C", "/home/jail/p1").returncode == 0
    cache_dir = os.path.join(root, ".rehearsal", "fflags-cache")
    (cached,) = os.listdir(cache_dir)
    with open(os.path.join(cache_dir, cached), "w", encoding="utf-8") as fh:
        fh.write(junk)
    result = run(root, "tar", "-xpf", "/var/cache/jailprov/base.tar", "-C", "/home/jail/p2")
    assert (result.returncode, result.stderr) == (0, "")
    assert rehearsal.kernel(root).file_flags == {"/home/jail/p1/bin/sh": ["schg"], "/home/jail/p2/bin/sh": ["schg"]}


def test_tar_cannot_write_outside_the_scratch_root(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    make(root, "/home/jail/p1")
    os.symlink(str(outside), os.path.join(root, "home/jail/p1/escape"))
    _archive(os.path.join(root, "evil.tar"), [("escape/owned", b"x", {})])
    result = run(root, "tar", "-xf", "/evil.tar", "-C", "/home/jail/p1")
    assert result.returncode != 0
    assert not (outside / "owned").exists()


# -- pw ----------------------------------------------------------------------------------------------

PASSWD = "root::0:0::0:0:Charlie &:/root:/bin/sh\ntoor:*:0:0::0:0:Bourne-again Superuser:/root:\n"


@pytest.fixture
def jail_passwd(root):
    make(root, "/home/jail/p1/etc")
    path = os.path.join(root, "home/jail/p1/etc/master.passwd")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(PASSWD)
    os.chmod(path, 0o600)
    return path


def read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def test_pw_sets_only_the_password_field(root, jail_passwd):
    result = run(root, "pw", "-R", "/home/jail/p1", "usermod", "root", "-H", "0", input="$6$salt$hash\n")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert read(jail_passwd) == PASSWD.replace("root::", "root:$6$salt$hash:", 1)
    assert oct(os.stat(jail_passwd).st_mode & 0o777) == "0o600"
    assert run(root, "pw", "-R", "/home/jail/p1", "usermod", "root", "-h", "-").returncode == 0
    assert read(jail_passwd).splitlines()[0] == "root:*:0:0::0:0:Charlie &:/root:/bin/sh"
    assert run(root, "pw", "-R", "/home/jail/p1", "usermod", "toor", "-h", "0", input="secret\n").returncode == 0
    assert read(jail_passwd).splitlines()[1].startswith("toor:$6$")
    mkdb = [n for n in rehearsal.nested_commands(root) if n["by"] == "pw"]
    assert mkdb[0] == {"by": "pw", "ran": False, "argv": [
        "pwd_mkdb", "-p", "-d", "/home/jail/p1/etc", "-u", "root", "/home/jail/p1/etc/master.passwd"]}


@pytest.mark.parametrize("argv, input, status, stderr", [
    (["-R", "/home/jail/p1", "usermod", "nobody", "-h", "-"], None, 67, "pw: no such user `nobody'\n"),
    (["-R", "/home/jail/p1", "usermod", "root", "-H", "0"], "a:b\n", 65, "pw: bad encrypted password\n"),
    (["bogus"], None, 64, "pw: unknown keyword `bogus'\n"),
    (["-R", "/home/jail/p1", "usermod", "root", "-h", "-", "-H", "0"], None, 64,
     "pw: '-h' and '-H' are mutually exclusive options\n"),
])
def test_pw_errors(root, jail_passwd, argv, input, status, stderr):
    result = run(root, "pw", *argv, input=input)
    assert (result.returncode, result.stderr) == (status, stderr)
    assert read(jail_passwd) == PASSWD
