"""mount/umount, devfs, chflags, tar and pw stand-ins: host paths mapped below the scratch root."""

import io
import os
import shutil
import subprocess
import tarfile

import pytest

from salt_jail import rehearsal
from salt_jail.rehearsal import fileflags

from tests.support.standins import run


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


needs_bsdtar = pytest.mark.skipif(shutil.which("bsdtar") is None,
                                  reason="bsdtar (Debian: libarchive-tools) is not installed")


def _immutable(path):
    return bool((fileflags.inode_attributes(path) or 0) & 0x10)  # FS_IMMUTABLE_FL, lsattr's "i"


# FreeBSD's tar is bsdtar (usr.bin/tar is libarchive's tar); run by root it restores the SCHILY.fflags
# records (archive_write_disk_posix.c, set_fflags), which Debian's bsdtar does on Linux as the inode's
# immutable attribute.  The stand-in runs that bsdtar: no flag pass of its own, no cache.
@needs_bsdtar
def test_tar_is_bsdtar_and_restores_schg_on_the_inode(root):
    make(root, "/var/cache/jailprov", "/home/jail/p1")
    _archive(os.path.join(root, "var/cache/jailprov/base.tar"), [
        ("./bin/sh", b"sh", {"SCHILY.fflags": "schg"}), ("./etc/motd", b"hello\n", {})])
    result = run(root, "tar", "-xpf", "/var/cache/jailprov/base.tar", "-C", "/home/jail/p1")
    assert (result.returncode, result.stderr) == (0, "")
    with open(os.path.join(root, "home/jail/p1/etc/motd"), encoding="utf-8") as fh:
        assert fh.read() == "hello\n"
    assert _immutable(os.path.join(root, "home/jail/p1/bin/sh"))
    assert not _immutable(os.path.join(root, "home/jail/p1/etc/motd"))
    with pytest.raises(PermissionError):
        os.unlink(os.path.join(root, "home/jail/p1/bin/sh"))
    assert not os.path.exists(os.path.join(root, ".rehearsal", "fflags-cache"))
    assert rehearsal.commands(root) == [["tar", "-xpf", "/var/cache/jailprov/base.tar", "-C", "/home/jail/p1"]]


@needs_bsdtar
@pytest.mark.parametrize("clear", ["0", "noschg"])
def test_chflags_clears_the_flags_bsdtar_restored(root, clear):
    """bin/chflags/chflags.c reads each file's st_flags (fts) and sets the new ones: the flags a file has,
    whoever set them -- here bsdtar from the archive's records, which the kernel record never saw."""
    make(root, "/var/cache/jailprov", "/home/jail/p1")
    _archive(os.path.join(root, "var/cache/jailprov/base.tar"), [
        ("./libexec/ld-elf.so.1", b"ld", {"SCHILY.fflags": "schg"}), ("./etc/motd", b"hello\n", {})])
    assert run(root, "tar", "-xpf", "/var/cache/jailprov/base.tar", "-C", "/home/jail/p1").returncode == 0
    result = run(root, "chflags", "-R", "-vv", clear, "/home/jail/p1")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "/home/jail/p1/libexec/ld-elf.so.1: 0400000 -> 00\n"
    assert not _immutable(os.path.join(root, "home/jail/p1/libexec/ld-elf.so.1"))
    assert rehearsal.kernel(root).file_flags == {}
    shutil.rmtree(os.path.join(root, "home/jail/p1"))


@needs_bsdtar
def test_tar_no_fflags_restores_no_flags(root):
    make(root, "/var/cache/jailprov", "/home/jail/p1")
    _archive(os.path.join(root, "var/cache/jailprov/base.tar"), [("./bin/sh", b"sh", {"SCHILY.fflags": "schg"})])
    # bsdtar.c reads options in order: -p turns ARCHIVE_EXTRACT_FFLAGS on, a later --no-fflags off again
    result = run(root, "tar", "-xpf", "/var/cache/jailprov/base.tar", "--no-fflags", "-C", "/home/jail/p1")
    assert (result.returncode, result.stderr) == (0, "")
    assert not _immutable(os.path.join(root, "home/jail/p1/bin/sh"))
    assert run(root, "chflags", "-vv", "0", "/home/jail/p1/bin/sh").stdout == ""


def test_chflags_reads_an_immutable_attribute_set_outside_it(root, tree):
    """An ``i`` nobody recorded (chattr, bsdtar) reads as schg; a recorded uchg stays uchg."""
    subprocess.run(["chattr", "+i", tree], check=True)
    assert run(root, "chflags", "-vv", "nouchg", "/t/sub/file").stdout == ""          # schg, not uchg
    assert run(root, "chflags", "-vv", "uchg", "/t/sub/file").stdout == "/t/sub/file: 0400000 -> 0400002\n"
    assert run(root, "chflags", "-vv", "noschg", "/t/sub/file").stdout == "/t/sub/file: 0400002 -> 02\n"
    assert _immutable(tree)                                                           # uchg keeps the i
    assert run(root, "chflags", "-vv", "0", "/t/sub/file").stdout == "/t/sub/file: 02 -> 00\n"
    os.unlink(tree)


def test_unmount_keeps_an_immutable_attribute_the_mount_point_had(root):
    make(root, "/home/jail/p1/dev")
    node = os.path.join(root, "home/jail/p1/dev")
    subprocess.run(["chattr", "+i", node], check=True)      # as bsdtar restores a schg directory
    assert run(root, "mount", "-t", "devfs", "devfs", "/home/jail/p1/dev").returncode == 0
    assert run(root, "umount", "/home/jail/p1/dev").returncode == 0
    assert _immutable(node)
    assert run(root, "chflags", "0", "/home/jail/p1/dev").returncode == 0
    assert not _immutable(node)


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
