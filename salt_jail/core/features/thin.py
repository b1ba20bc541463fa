"""Thin prisoners: one read-only release tree per release/arch/dists, shared through nullfs.

A prisoner with ``type: thin`` has no base system of its own.  Its root ``jail_root/NAME`` is its
*writable part*; the read-only system directories come from the shared *release tree*, mounted by
jail(8) from the prisoner's own fstab each time it starts.

**The release tree** is ``{releases_dir}/{release}-{arch}-{dists}`` (``jailprov:releases_dir``, default
``{jail_root}/.releases``: a prisoner name cannot start with a dot, so no prisoner root can ever be
there).  It is a complete root extracted once from the verified cache, exactly as a thick prisoner's
(:func:`salt_jail.core.release.install_tree`, with its stamp), so it is where patches (freebsd-update
``-b TREE``) go later: patching it patches the binaries of every thin prisoner of that release at once,
not their ``/etc``.  Prisoners see it only through read-only mounts; it is removed only on request
(:func:`remove_tree`), never while a jail uses it.

**The layout** (what is shared, copied, empty) follows iocage's basejails, not Bastille's thin jails:

* *shared*, read-only: :data:`SHARED` — iocage's fourteen directories (iocage_lib/ioc_create.py,
  ``basedirs``: bin boot lib libexec rescue sbin usr/bin usr/include usr/lib usr/libexec usr/sbin
  usr/share usr/libdata usr/lib32) plus ``usr/src`` (Bastille links it, create.sh ``LINK_LIST``) and
  ``usr/tests`` (Bastille copies it into every jail, create.sh ``FILE_LIST``; it is system content and by
  far the largest of those), each kept only when the tree has it as a real directory (no lib32 dist, no
  ``usr/lib32``).  Each is one ``TREE/DIR  ROOT/DIR  nullfs  ro  0 0`` line, mounted onto a real, empty
  directory of the writable part.
* *copied* once, when the prisoner is new: everything else of the release — ``etc``, ``var``, ``root``,
  ``tmp``, ``dev``, ``media``, ``mnt``, ``net``, ``proc``, ``.cshrc``, ``.profile``, ``COPYRIGHT``,
  ``usr/obj``, ... — what Bastille copies with ``cp -a`` (create.sh ``FILE_LIST``), whatever the release
  holds.  It is extracted with the system tar (owners, modes, file flags, hard links, as for a thick
  prisoner) from a *writable-part archive* cut once per tree from the same verified dist archives.
* *empty*: the shared directories themselves (mount points) and whatever the release has no entry for
  (``usr/local`` is made by pkg, as on a thick prisoner).

Why not Bastille's one mount at ``root/.bastille`` plus symbolic links (``bin -> /.bastille/bin``): inside
the prisoner ``/bin`` and ``/usr/lib`` stay real directories, exactly as in a thick prisoner, so no path of
the prisoner's system depends on a link its root user can retarget; ``mount -p`` says exactly which
directories are shared; and a stopped thin prisoner has no dangling links.  The price, fourteen to
sixteen nullfs mounts per prisoner instead of one, is what iocage pays for its basejails.

**Threat model.**  The writable part belongs to the prisoner's root user, so the mount points are
prisoner-controlled paths.  The host never mounts into them itself: jail(8) does it at start, before any
process of the prisoner runs, and refuses a mount point with a symbolic link below ``path``
(usr.sbin/jail/command.c, check_path).  The host-side code here opens prisoner paths component by
component without following links (:func:`_mount_point_problem`), reads the stamp through
:mod:`.textedit`, and writes only into a root that is new (extraction) or host-owned files
(``/etc/fstab.NAME``, outside every prisoner).

**The fstab** ``/etc/fstab.NAME`` (the FreeBSD examples' place, share/examples/jails/rc.conf.jails) is
host-owned and exact: a header and the mount lines in :data:`SHARED` order; jail(8) mounts them in that
order and unmounts them in reverse.  Its block in jail.conf gets ``mount.fstab = "/etc/fstab.NAME"``.
jail(8) reads the fstab only when it starts or stops a jail (``jail -m`` applies no mount), so a changed
fstab of a running prisoner is applied by stopping it with the old file, writing, and starting it; and
live mounts (``mount -p``) that differ from a correct fstab are reported with the restart they need.
"""

import fcntl
import json
import os
import posixpath
import shutil
import stat
import tarfile

from . import lifecycle
from .. import release
from ..formats import jailconf
from ..io import textedit
from ..tools import jailcmd
from ..errors import JailprovError, MissingError, ValidationError
from ..result import StepResult

#: The directories thin prisoners share, read-only, in fstab (= mount) order: parents never follow
#: children.  See the module docstring for where the list comes from.
SHARED = ("bin", "boot", "lib", "libexec", "rescue", "sbin", "usr/bin", "usr/include", "usr/lib", "usr/lib32",
          "usr/libdata", "usr/libexec", "usr/sbin", "usr/share", "usr/src", "usr/tests")

#: The writable-part archive of a tree, and its record, beside the tree in releases_dir.
WRITABLE_SUFFIX = ".writable.tar"
RECORD_SUFFIX = ".writable.json"
RECORD_FORMAT = 1
#: First line of every fstab jailprov writes; destroy removes only a file that starts with it.
FSTAB_HEADER = "# Written by jailprov for thin prisoner {name}: read-only nullfs mounts of its release tree."

_BLOCK = tarfile.BLOCKSIZE
_COPY = 1 << 20


# ------------------------------------------------------------------------------------------------
# Names and paths
# ------------------------------------------------------------------------------------------------
def tree_name(cfg):
    """``14.2-RELEASE-amd64-base`` (dists sorted, joined by ``+``)."""
    return f"{cfg.release}-{cfg.arch}-{'+'.join(sorted(cfg.dists))}"


def tree_path(cfg):
    """Host path of the release tree the pillar's thin prisoners share."""
    return posixpath.join(cfg.releases_dir, tree_name(cfg))


def fstab_path(name):
    """Host path of thin prisoner ``name``'s fstab."""
    return f"/etc/fstab.{name}"


def block_params(cfg, prisoner):
    """The jail.conf parameters a thin prisoner's block adds (none for a thick one)."""
    return [("mount.fstab", fstab_path(prisoner.name))] if prisoner.type == "thin" else []


def _prisoner(cfg, name):
    return lifecycle._managed(cfg, name)  # pylint: disable=protected-access  (the present prisoner, or an error)


def applies(cfg, name):
    """Whether ``name`` is a present thin prisoner (the ``fstab`` step is for those only)."""
    prisoner = cfg.prisoners.get(name)
    return prisoner is not None and not prisoner.absent and prisoner.type == "thin"


# ------------------------------------------------------------------------------------------------
# Which type a prisoner's root holds
# ------------------------------------------------------------------------------------------------
def installed_type(host, prisoner):
    """``"thick"``, ``"thin"`` or None (nothing installed by jailprov yet), from the root's base stamp."""
    stamp = release.read_stamp(host, prisoner.path)
    if stamp is None:
        return None
    return stamp.get("type", "thick")


def refuse_conversion(host, cfg, prisoner):
    """Raise when the pillar's ``type`` differs from what the prisoner's root holds (thick <-> thin)."""
    have = installed_type(host, prisoner)
    if have is None or have == prisoner.type:
        return
    name = prisoner.name
    what = {"thick": "a full base of its own", "thin": "a writable part over the shared release tree"}
    raise JailprovError(
        f"prisoner {name} is {have} ({prisoner.path} holds {what[have]}), but jailprov:prisoners:{name}:type "
        f"asks for {prisoner.type}. Converting a prisoner between thick and thin is not supported: back up what "
        f"it keeps (etc, home, root, var, usr/local), set `absent: true` on it and apply the formula (it is "
        f"destroyed), then set `type: {prisoner.type}` and apply again to build it anew; or set `type: {have}` "
        "back.")


# ------------------------------------------------------------------------------------------------
# The release tree and its writable-part archive
# ------------------------------------------------------------------------------------------------
def _real_dir(path):
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def shared_dirs(host, tree):
    """The :data:`SHARED` directories that are real directories (not links) of ``tree``."""
    real = host.path(tree)
    return [d for d in SHARED if all(_real_dir(os.path.join(real, *d.split("/")[:i + 1]))
                                     for i in range(d.count("/") + 1))]


def _under(name, dirs):
    """Whether archive member ``name`` is one of ``dirs`` (0) or below one (1); None when neither."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    path = "/".join(parts)
    for d in dirs:
        if path == d:
            return 0
        if path.startswith(d + "/"):
            return 1
    return None


def _copy_range(src, dst, offset, length):
    src.seek(offset)
    while length:
        chunk = src.read(min(_COPY, length))
        if not chunk:
            raise JailprovError(f"{src.name}: archive ends early")
        dst.write(chunk)
        length -= len(chunk)


def write_writable_archive(tars, dirs, dest, modes):
    """Cut the writable part out of the verified dist archives ``tars`` into the tar ``dest``.

    Every member that is not below one of ``dirs`` is copied byte for byte (its pax records, and so its
    file flags, included); each of ``dirs`` stays as an empty directory (a mount point; ``modes`` gives
    the ``(mode, uid, gid)`` of one the archives only imply).  A hard link from the writable part to a
    file of a shared directory becomes a copy of that file.  Returns the number of members written.
    """
    written = 0
    seen_dirs = set()
    with open(dest, "wb") as out:
        for path in tars:
            shared_files = {}
            with open(path, "rb") as src, tarfile.open(fileobj=src, mode="r:") as tar:
                while (member := tar.next()) is not None:
                    tar.members.clear()
                    where = _under(member.name, dirs)
                    if where == 1:
                        if member.isreg():
                            shared_files[member.name] = (member, member.offset_data)
                        continue
                    if where == 0:
                        seen_dirs.add(_under_key(member.name))
                    if member.islnk() and _under(member.linkname, dirs) == 1:
                        target, offset = shared_files[member.linkname]
                        copy = tarfile.TarInfo(member.name)
                        for attr in ("mode", "uid", "gid", "uname", "gname", "mtime", "size"):
                            setattr(copy, attr, getattr(target, attr))
                        copy.pax_headers = dict(target.pax_headers)
                        out.write(copy.tobuf(tarfile.PAX_FORMAT))
                        _copy_range(src, out, offset, target.size)
                        out.write(b"\0" * (-target.size % _BLOCK))
                        written += 1
                        continue
                    end = member.offset_data + (member.size + _BLOCK - 1) // _BLOCK * _BLOCK \
                        if member.isreg() else member.offset_data
                    _copy_range(src, out, member.offset, end - member.offset)
                    written += 1
        for d in dirs:
            if d not in seen_dirs:
                mode, uid, gid = modes[d]
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, gid
                out.write(info.tobuf(tarfile.PAX_FORMAT))
                written += 1
        out.write(b"\0" * (2 * _BLOCK))
        out.flush()
        os.fsync(out.fileno())
    return written


def _under_key(name):
    return "/".join(p for p in name.split("/") if p not in ("", "."))


class _Tree:
    """The release tree of ``cfg`` and its writable-part archive."""

    def __init__(self, host, cfg):
        if not cfg.releases_dir:
            raise ValidationError("jailprov:releases_dir is not set (the pillar was not parsed by the model)")
        self.host, self.cfg = host, cfg
        self.path = tree_path(cfg)
        self.archive = self.path + WRITABLE_SUFFIX
        self.record_path = self.path + RECORD_SUFFIX

    def real(self, path):
        return self.host.path(path)

    def stamp(self):
        return release.read_stamp(self.host, self.path)

    def installed(self):
        stamp = self.stamp()
        return stamp is not None and stamp.get("state") == "installed"

    def record(self):
        try:
            with open(self.real(self.record_path), encoding="utf-8") as fh:
                record = json.load(fh)
        except (FileNotFoundError, ValueError):
            return None
        return record if isinstance(record, dict) and record.get("format") == RECORD_FORMAT else None

    def archive_ok(self, record, digests, dirs):
        """Whether the writable-part archive on disk is the one ``record`` describes, cut from ``digests``."""
        if not record or record.get("from") != digests or record.get("shared") != dirs:
            return False
        try:
            st = os.stat(self.real(self.archive))
        except FileNotFoundError:
            return False
        return record.get("fingerprint") == [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]

    def build_archive(self, cache, dirs):
        real_tree = self.real(self.path)
        modes = {}
        for d in dirs:
            st = os.lstat(os.path.join(real_tree, d))
            modes[d] = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        part = self.real(self.archive) + ".part"
        tars = [self.real(cache["dists"][d]["tar"]) for d in self.cfg.dists]
        try:
            members = write_writable_archive(tars, dirs, part, modes)
        except (OSError, tarfile.TarError, KeyError) as err:
            _unlink(part)
            raise JailprovError(f"cannot cut the writable part of {self.path} into {self.archive}: {err}") from err
        os.replace(part, self.real(self.archive))
        st = os.stat(self.real(self.archive))
        record = {"format": RECORD_FORMAT, "from": {d: cache["dists"][d]["sha256"] for d in self.cfg.dists},
                  "shared": dirs, "members": members,
                  "fingerprint": [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]}
        tmp = self.real(self.record_path) + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.real(self.record_path))
        return record


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _lock(host, cfg):
    """An exclusive lock on releases_dir (one tree build at a time); created when missing."""
    real = host.path(cfg.releases_dir)
    os.makedirs(real, mode=0o755, exist_ok=True)
    handle = open(os.path.join(real, ".lock"), "w", encoding="utf-8")  # pylint: disable=consider-using-with
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def ensure_tree(host, cfg, test=False, fetcher=None, progress=None):
    """The release tree of ``cfg`` is extracted and its writable-part archive cut, once.

    Returns a :class:`StepResult` whose data holds ``tree``, ``archive`` and ``shared`` (the shared
    directories, once the tree exists).  ``test=True`` writes nothing and says what would be done.
    """
    tree = _Tree(host, cfg)
    if test:
        if tree.installed():
            record = tree.record()
            dirs = shared_dirs(host, tree.path)
            cache = release.fetch_release(host, cfg, test=True, fetcher=fetcher, progress=progress)
            digests = {d: cache["dists"][d]["sha256"] for d in cfg.dists}
            if tree.archive_ok(record, digests, dirs):
                return StepResult(False, f"release tree {tree.path} is already installed",
                                  data={"tree": tree.path, "archive": tree.archive, "shared": dirs})
            return StepResult(True, f"the writable part of release tree {tree.path} would be cut into "
                                    f"{tree.archive}", data={"tree": tree.path, "archive": tree.archive})
        return StepResult(True, f"release tree {tree.path} would be extracted (then its writable part cut into "
                                f"{tree.archive})", data={"tree": tree.path, "archive": tree.archive})
    with _lock(host, cfg):
        done = []
        extracted = release.install_tree(host, cfg, tree.path, tree_name(cfg), fetcher=fetcher, progress=progress)
        if extracted.changed:
            done.append(f"release tree {tree.path}: {extracted.comment}")
        dirs = shared_dirs(host, tree.path)
        if "bin" not in dirs:
            raise JailprovError(f"release tree {tree.path} has no bin directory: it is not a FreeBSD base; "
                                "remove it (jailprov.remove_release_tree) and apply again")
        cache = release.fetch_release(host, cfg, fetcher=fetcher, progress=progress)
        digests = {d: cache["dists"][d]["sha256"] for d in cfg.dists}
        record = tree.record()
        if not tree.archive_ok(record, digests, dirs):
            record = tree.build_archive(cache, dirs)
            done.append(f"its writable part ({record['members']} entries) cut into {tree.archive}")
    data = {"tree": tree.path, "archive": tree.archive, "shared": dirs}
    if not done:
        return StepResult(False, f"release tree {tree.path} is already installed", data=data)
    return StepResult(True, "; ".join(done), data=data)


# ------------------------------------------------------------------------------------------------
# Step 2 for a thin prisoner: the writable part
# ------------------------------------------------------------------------------------------------
def install_writable(host, cfg, name, test=False, force=False, fetcher=None, progress=None):
    """Step 2 of a thin prisoner: the release tree exists, and the prisoner's writable part is extracted
    into its root from the tree's writable-part archive — once, when the prisoner is new.

    The root's stamp (``var/db/jailprov-base.json``, ``"type": "thin"``) names the tree.  An installed
    stamp for this tree is no change; one for another tree (another release) is an error, as for a thick
    prisoner; an interrupted extraction is cleared and redone; a non-empty root without a stamp is refused
    unless ``force=True`` (which empties it first).
    """
    prisoner = _prisoner(cfg, name)
    root, real = prisoner.path, host.path(prisoner.path)
    wanted = tree_path(cfg)
    stamp = release.read_stamp(host, root)
    clear, why = False, "empty root"
    if stamp is not None and stamp.get("state") == "installed":
        if stamp.get("tree") != wanted:
            raise JailprovError(
                f"thin prisoner {name} uses release tree {stamp.get('tree')}, but the pillar asks for {wanted}. "
                "Changing the release of a thin prisoner is not done by extraction: destroy it and build it "
                "again (back up its etc, home, root and var first), or set jailprov:release back.")
        if _Tree(host, cfg).installed():
            return StepResult(False, f"the writable part of thin prisoner {name} is already installed in {root} "
                                     f"(release tree {wanted}, since {stamp.get('installed_at')})",
                              data={"stamp": stamp})
        built = ensure_tree(host, cfg, test=test, fetcher=fetcher, progress=progress)  # the tree went away
        return StepResult(True, built.comment, data={"tree": wanted, "root": root})
    if stamp is not None:
        clear, why = True, "an earlier extraction was interrupted"
    elif release.contents(real):
        if not force:
            raise JailprovError(
                f"{root} is not empty and has no {release.STAMP}: it holds files jailprov did not install. "
                "Refusing to install a thin prisoner's writable part over them; pass force=True to empty it "
                "(all its files are removed).")
        clear, why = True, "force=True"
    built = ensure_tree(host, cfg, test=test, fetcher=fetcher, progress=progress)
    notes = [built.comment] if built.changed else []
    archive = built.data["archive"]
    if test:
        steps = ([f"clear {root} ({why})"] if clear else []) + [f"extract the writable part of {wanted} into {root}"]
        return StepResult(True, "\n".join(notes + ["would " + ", then ".join(steps)]),
                          data={"tree": wanted, "root": root})
    if clear:
        release.clear_root(host, root, name)
    os.makedirs(real, mode=0o755, exist_ok=True)
    new_stamp = {"format": release.STAMP_FORMAT, "type": "thin", "tree": wanted, "release": cfg.release,
                 "arch": cfg.arch, "dists": sorted(cfg.dists)}
    release.mark_extracting(real, root, new_stamp)
    release.extract_into(host, archive, root, "the writable part", cfg.release,
                         release.Progress(progress, os.path.getsize(host.path(archive)),
                                          what="release/extract", dist="writable", prisoner=name))
    new_stamp.update(state="installed", installed_at=_now())
    release.write_stamp(real, root, new_stamp)
    steps = ([f"cleared {root} ({why})"] if clear else []) + [f"extracted the writable part of {wanted} into {root}"]
    return StepResult(True, "\n".join(notes + [", then ".join(steps)]), data={"tree": wanted, "root": root})


def _now():
    import datetime  # pylint: disable=import-outside-toplevel
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------------------------
# The fstab, and the live mounts
# ------------------------------------------------------------------------------------------------
def fstab_lines(host, cfg, prisoner):
    """``[(source, mount point)]`` of a thin prisoner, in mount order; needs the tree to exist."""
    tree = tree_path(cfg)
    if not _Tree(host, cfg).installed():
        raise MissingError(f"release tree {tree} is not installed yet; step 'base' (jailprov.install_base "
                           f"{prisoner.name}) extracts it")
    return [(f"{tree}/{d}", f"{prisoner.path}/{d}") for d in shared_dirs(host, tree)]


def render_fstab(name, lines):
    """The exact text of a thin prisoner's fstab (fstab(5): device, mount point, type, options, dump, pass)."""
    return "\n".join([FSTAB_HEADER.format(name=name)] + [f"{src}\t{dst}\tnullfs\tro\t0\t0" for src, dst in lines]) + "\n"


def _mount_point_problem(host, prisoner, rel):
    """Why jail(8) would refuse ``ROOT/rel`` as a mount point (missing, not a directory, a symbolic link on
    the way: command.c check_path), or None.  Opens component by component, never following a link."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(host.path(prisoner.path), flags)
    try:
        done = prisoner.path
        for comp in rel.split("/"):
            done = f"{done}/{comp}"
            try:
                st = os.lstat(comp, dir_fd=fd)
            except FileNotFoundError:
                return f"{done} does not exist"
            if stat.S_ISLNK(st.st_mode):
                return f"{done} is a symbolic link"
            if not stat.S_ISDIR(st.st_mode):
                return f"{done} is not a directory"
            nfd = os.open(comp, flags, dir_fd=fd)
            os.close(fd)
            fd = nfd
    finally:
        os.close(fd)
    return None


def _live_mounts(host, prisoner):
    """``[(source, mount point)]`` of the nullfs mounts below the prisoner's root (``mount -p``), in table
    order, with both sides as the host resolves them."""
    return [(m.device, m.mountpoint) for m in reversed(lifecycle._mounts_under(host, prisoner.path))  # pylint: disable=protected-access
            if m.fstype == "nullfs"]


def _resolved(host, lines):
    real = lifecycle._real_host_path   # pylint: disable=protected-access
    return [(real(host, src), real(host, dst)) for src, dst in lines]


def live_mismatch(host, cfg, prisoner, lines):
    """How the nullfs mounts of running prisoner ``prisoner`` differ from ``lines``: a list of sentences."""
    want = _resolved(host, lines)
    have = _live_mounts(host, prisoner)
    problems = [f"{dst} is not mounted (from {src})" for src, dst in want if (src, dst) not in have]
    problems += [f"{dst} has {src} mounted, which its fstab does not list" for src, dst in have if (src, dst) not in want]
    problems += [f"{dst} has {src} mounted {have.count((src, dst))} times" for src, dst in want
                 if have.count((src, dst)) > 1]
    return problems


def fstab(host, cfg, name, test=False):
    """The thin prisoner's ``/etc/fstab.NAME`` lists exactly its read-only release mounts, in order.

    Also refused: a prisoner whose root holds the other type, a mount point jail(8) would refuse.  When
    the file changes while the prisoner runs, it is stopped with the old file (so jail(8) unmounts what it
    mounted), the file written, and the prisoner started.  When the file is right but the live mounts
    (``mount -p``) differ from it, the step fails and names the restart that applies it.
    """
    prisoner = _prisoner(cfg, name)
    if prisoner.type != "thin":
        return StepResult(False, f"prisoner {name} is thick: it has no release mounts ({fstab_path(name)} left alone)")
    refuse_conversion(host, cfg, prisoner)
    lines = fstab_lines(host, cfg, prisoner)
    if installed_type(host, prisoner) is None:
        raise MissingError(f"the writable part of thin prisoner {name} is not installed yet; step 'base' "
                           f"(jailprov.install_base {name}) extracts it")
    problems = [p for p in (_mount_point_problem(host, prisoner, dst[len(prisoner.path) + 1:]) for _, dst in lines) if p]
    if problems:
        raise JailprovError(
            f"jail(8) would refuse to mount the release of thin prisoner {name}: {'; '.join(problems)} (a mount "
            f"point must be a real directory with no symbolic link below {prisoner.path}). Its root user changed "
            f"its tree: restore the directories (mkdir) or rebuild the prisoner")
    text = render_fstab(name, lines)
    root = textedit.Root.of_host(host)
    rel = fstab_path(name).lstrip("/")
    edit = textedit.edit(root, rel, lambda _old: (text, ""), test=True, create=True, mode=0o644)
    running = lifecycle.find_running(host, name)
    if not edit.changed:
        if running is not None:
            problems = live_mismatch(host, cfg, prisoner, lines)
            if problems:
                raise JailprovError(
                    f"{edit.shown} is correct, but running prisoner {name} (jid {running['jid']}) is not mounted "
                    f"as it says: {'; '.join(problems)}. jail(8) applies an fstab only when a jail starts: restart "
                    f"it to apply it (salt-call jailprov.restart {name})")
        return StepResult(False, f"{edit.shown} is already correct")
    if test:
        comment = f"{edit.shown} would be changed"
        if running is not None:
            comment += f"; {name} is running: it would be stopped with its current fstab, then started"
        return StepResult(True, comment, edit.diff)
    notes = []
    if running is not None:
        notes.append(lifecycle.stop(host, cfg, name).comment)
        notes += _unmount_leftovers(host, prisoner)
    textedit.edit(root, rel, lambda _old: (text, ""), create=True, mode=0o644)
    if running is not None:
        notes.append(lifecycle.start(host, cfg, name).comment)
    return StepResult(True, f"{edit.shown} was changed" + (f"; {'; '.join(notes)}" if notes else ""), edit.diff)


def _unmount_leftovers(host, prisoner):
    """Unmount the nullfs mounts still below a thin prisoner's root once it is stopped (its old fstab, edited
    by hand after it started, did not list them), deepest first; returns what was done, as sentences."""
    done = []
    for m in lifecycle._mounts_under(host, prisoner.path):  # pylint: disable=protected-access  (deepest first)
        if m.fstype == "nullfs":
            host.check(jailcmd.umount_argv(m.mountpoint), what=f"cannot unmount {m.mountpoint}")
            done.append(f"unmounted {m.mountpoint}, which its old fstab did not list")
    return done


def fstab_removal(host, name, test=False):
    """Remove thin prisoner ``name``'s fstab when jailprov wrote it (for destroy); an EditResult list."""
    root = textedit.Root.of_host(host)
    rel = fstab_path(name).lstrip("/")
    state = textedit.read_text(root, rel, missing_ok=True)
    if state is None or not state.text.startswith(FSTAB_HEADER.format(name=name)):
        return []
    return [textedit.ensure_absent(root, rel, test=test)]


def base_view(host, cfg, prisoner, root):
    """Where the prisoner's base files are while it is stopped: its root, or for a thin prisoner whose
    release tree is installed, the tree (its shared directories are mounted only while it runs)."""
    if prisoner.type != "thin":
        return root
    tree = tree_path(cfg)
    if not _Tree(host, cfg).installed():
        return root
    return textedit.Root(host.path(tree), tree)


# ------------------------------------------------------------------------------------------------
# Removing a release tree
# ------------------------------------------------------------------------------------------------
def tree_users(host, cfg, tree):
    """The jails that use release tree ``tree``: mounted from it now, listing it in the fstab their
    jail.conf names, or thin prisoners of the pillar whose tree it is.  Sorted names."""
    users = set()
    real_tree = lifecycle._real_host_path(host, tree)  # pylint: disable=protected-access
    jail_root = cfg.jail_root.rstrip("/") + "/"
    real_root = lifecycle._real_host_path(host, cfg.jail_root).rstrip("/") + "/"  # pylint: disable=protected-access
    for entry in lifecycle._mount_table(host):  # pylint: disable=protected-access
        if any(entry.device == t or entry.device.startswith(t + "/") for t in (tree, real_tree)):
            for top in (jail_root, real_root):
                if entry.mountpoint.startswith(top):
                    users.add(entry.mountpoint[len(top):].split("/", 1)[0])
                    break
            else:
                users.add(f"(a mount on {entry.mountpoint})")
    if tree == tree_path(cfg):
        users.update(p.name for p in cfg.present if p.type == "thin")
    conf = cfg.jail_conf
    read = lifecycle._reader(host)  # pylint: disable=protected-access
    if read(conf):
        for jail in jailconf.defined_jails(conf, read=read):
            try:
                params = jailconf.effective_params(conf, jail, read=read)
            except JailprovError:
                continue
            paths = params.get("mount.fstab")
            for path in paths if isinstance(paths, list) else []:
                if not path.startswith("/"):
                    continue
                try:
                    state = textedit.read_text(textedit.Root.of_host(host), path.lstrip("/"), missing_ok=True)
                except JailprovError:
                    continue
                if state is None:
                    continue
                for line in state.text.splitlines():
                    fields = line.split("#", 1)[0].split()
                    if fields and (fields[0] == tree or fields[0].startswith(tree + "/")):
                        users.add(jail)
    return sorted(users)


def remove_tree(host, cfg, release_name=None, arch=None, dists=None, test=False):
    """Remove a release tree of ``releases_dir`` (default: the pillar's) and its writable-part archive.

    Refused while any jail uses it (:func:`tree_users`: the refusal names them).  Its file flags are
    cleared (``chflags -R 0``) and it is removed without following a symbolic link.
    """
    import dataclasses  # pylint: disable=import-outside-toplevel
    picked = dataclasses.replace(cfg, release=release_name or cfg.release, arch=arch or cfg.arch,
                                 dists=tuple(dists) if dists else cfg.dists)
    tree = _Tree(host, picked)
    if "/" in tree_name(picked) or tree_name(picked).startswith("."):
        raise ValidationError(f"{tree_name(picked)!r} cannot name a release tree")
    real = host.path(tree.path)
    files = [p for p in (tree.archive, tree.record_path) if os.path.lexists(host.path(p))]
    if not os.path.lexists(real) and not files:
        return StepResult(False, f"release tree {tree.path} is already absent")
    if os.path.islink(real):
        raise JailprovError(f"refusing to remove {tree.path}: it is a symbolic link")
    users = tree_users(host, cfg, tree.path)
    if users:
        raise JailprovError(f"refusing to remove release tree {tree.path}: it is used by {', '.join(users)} "
                            "(destroy those thin prisoners, or move them to another release, first)")
    below = lifecycle._mounts_under(host, tree.path) if os.path.lexists(real) else []  # pylint: disable=protected-access
    if below:
        raise JailprovError(f"refusing to remove release tree {tree.path}: {below[0].mountpoint} is mounted below "
                            "it; unmount it first")
    if test:
        return StepResult(True, f"release tree {tree.path} would be removed", data={"tree": tree.path})
    if os.path.lexists(real):
        host.check(jailcmd.chflags_clear_argv(tree.path), what=f"cannot clear the file flags below {tree.path}")
        shutil.rmtree(real)
    for path in files:
        _unlink(host.path(path))
    return StepResult(True, f"release tree {tree.path} removed", data={"tree": tree.path})
