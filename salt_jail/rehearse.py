"""Rehearse the ``jail`` formula against a pillar on a scratch root, on any Linux box.

    python -m salt_jail.rehearse --pillar mypillar.sls          # your pillar
    python -m salt_jail.rehearse --demo                         # the seed scenario (pillar.example)

What it does: sets up a rehearsal host (the FreeBSD stand-ins and a simulated kernel) under the scratch
root, generates a synthetic release for the pillar's release/arch and serves it on 127.0.0.1 (the pillar's
mirror is replaced by it: nothing leaves the machine), then runs the real formula with
``salt-call --local state.apply jail`` — twice, the second run must change nothing — and prints
``jailprov.list`` as jls prints it and a ping from the first prisoner to the host.  The files it built stay
under the scratch root for you to inspect; the command log of every FreeBSD tool run is in
``<root>/.rehearsal/commands.log``.
"""

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import time

import yaml

from salt_jail import rehearsal, resources
from salt_jail.rehearsal import mirror, zfspool

HOST_IPV4 = "192.168.11.30"


#: The mark rehearse leaves in every scratch root it creates; only a root holding it (or an older rehearsal
#: host's kernel state) is emptied by a later run.
MARK = ".rehearsal/made-by-salt_jail-rehearse"


class RootRefused(Exception):
    """The --root directory is not one this command may empty."""


def check_root(root):
    """What emptying ``root`` would remove, or :class:`RootRefused`: ``/``, the current directory or one of
    its parents, and a non-empty directory that ``rehearse`` did not create itself are never emptied."""
    root = pathlib.Path(root).resolve()
    cwd = pathlib.Path.cwd().resolve()
    if root == pathlib.Path(root.anchor):
        raise RootRefused(f"refusing --root {root}: it is the filesystem root")
    if root == cwd or root in cwd.parents or root == pathlib.Path.home().resolve():
        raise RootRefused(f"refusing --root {root}: it holds the current directory or is a home directory")
    if not root.exists():
        return []
    if not root.is_dir() or root.is_symlink():
        raise RootRefused(f"refusing --root {root}: it is not a directory")
    entries = sorted(p.name for p in root.iterdir())
    if entries and not ((root / MARK).is_file() or (root / ".rehearsal" / "kernel.json").is_file()):
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise RootRefused(f"refusing --root {root}: it is not empty ({shown}) and is not a scratch root this "
                          "command created; name a new or empty directory")
    return entries


def _clear_flags(path):
    """Nullfs mounts (real read-only binds) must go first; immutable files (the rehearsal's schg) cannot be
    removed until cleared."""
    if path.exists():
        rehearsal.unmount_all(str(path))
    if path.exists() and shutil.which("chattr"):
        subprocess.run(["chattr", "-R", "-i", "-a", str(path)], capture_output=True, check=False)


def prepare(root, pillar_data, states_dir, size="small"):
    """Lay out the rehearsal host, the mirror and the salt-call config; returns (config_dir, stop_mirror)."""
    jp = pillar_data.get("jailprov") or {}
    rehearsal.setup(str(root), interface=jp.get("interface") or "em0", host_ipv4=HOST_IPV4)
    salt_dir = root / ".rehearsal" / "salt"
    pillar_dir = salt_dir / "pillar"
    pillar_dir.mkdir(parents=True, exist_ok=True)

    mirror_dir = root / ".rehearsal" / "mirror"
    release = jp.get("release", "14.2-RELEASE")
    arch = jp.get("arch", "amd64")
    dists = jp.get("dists") or ["base"]
    if isinstance(release, str) and isinstance(arch, str) and isinstance(dists, list):
        mirror.make_release(str(mirror_dir), release=release, arch=arch, dists=tuple(dists), size=size)
    base_url, stop = mirror.serve(str(mirror_dir))

    local = json.loads(json.dumps(pillar_data))  # deep copy, plain types
    if isinstance(local.get("jailprov"), dict):
        local["jailprov"].pop("mirrors", None)
        local["jailprov"]["mirror"] = base_url
        local["jailprov"].pop("sha256", None)  # pins name the real release, not the synthetic one
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - rehearsal\n", encoding="utf-8")
    (pillar_dir / "rehearsal.sls").write_text(yaml.safe_dump(local, sort_keys=False), encoding="utf-8")
    minion = {
        "id": "rehearsal",
        "file_client": "local",
        "root_dir": str(salt_dir),
        "pki_dir": str(salt_dir / "pki"),
        "cachedir": str(salt_dir / "cache"),
        "sock_dir": str(salt_dir / "sock"),
        "log_file": str(salt_dir / "minion.log"),
        "log_level_logfile": "info",
        "file_roots": {"base": [str(states_dir)]},
        "pillar_roots": {"base": [str(pillar_dir)]},
        "state_output_diff": True,
        "jailprov": {"rehearsal": True, "root": str(root)},
    }
    (salt_dir / "minion").write_text(yaml.safe_dump(minion), encoding="utf-8")
    return salt_dir, stop


def salt_call(config_dir, *args):
    cmd = [sys.executable, "-c", "import salt.scripts; salt.scripts.salt_call()",
           "--local", "-c", str(config_dir), "--out=json", "--retcode-passthrough", "-l", "quiet", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        data = json.loads(proc.stdout)["local"]
    except (ValueError, KeyError, TypeError):
        data = None
    return proc.returncode, data, proc.stdout + proc.stderr


def summarize(states):
    """Print one line per state, in run order, and return (succeeded, changed, failed)."""
    if not isinstance(states, dict):
        print(f"  {states}")
        return 0, 0, 1
    ordered = sorted(states.values(), key=lambda s: s.get("__run_num__", 0))
    ok = changed = failed = 0
    for s in ordered:
        sid = s.get("__id__", s.get("name"))
        result = s.get("result")
        mark = {True: "ok     ", None: "would  ", False: "FAILED "}[result]
        if result is False:
            failed += 1
        else:
            ok += 1
        if s.get("changes"):
            changed += 1
            mark = "changed" if result else mark
        comment = (s.get("comment") or "").strip().splitlines()
        first = comment[0] if comment else ""
        print(f"  {mark} {sid:<42} {first[:90]}")
        if result is False:
            for line in comment[1:]:
                print(f"          {line}")
    print(f"  -- succeeded: {ok} (changed={changed}), failed: {failed}")
    return ok, changed, failed


def jls_table(jails):
    """The listing as jls prints its default columns (plus the state, which jls cannot show)."""
    lines = ["   JID  IP Address      Hostname                      Path"]
    for j in jails:
        jid = j.get("jid") or "-"
        ip = (j.get("ipv4") or [""])[0]
        lines.append(f"{jid!s:>6}  {ip:<15} {j.get('hostname', ''):<29} {j.get('path', '')}"
                     f"   ({j.get('state')}{'' if j.get('managed') else ', unmanaged'})")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m salt_jail.rehearse", description=__doc__.splitlines()[0])
    parser.add_argument("--pillar", type=pathlib.Path, help="a pillar file holding the jailprov: key "
                        "(default: pillar.example, the seed environment)")
    parser.add_argument("--demo", action="store_true", help="rehearse the seed scenario (pillar.example)")
    parser.add_argument("--root", type=pathlib.Path, default=pathlib.Path("demo-root"),
                        help="scratch root (default ./demo-root): a new or empty directory, or one a previous run "
                             "created (emptied first); anything else is refused")
    parser.add_argument("--states", type=pathlib.Path, default=None,
                        help="the formula's states dir (default: the installed formula, `salt-jail formula-path`)")
    parser.add_argument("--size", choices=("small", "realistic"), default="small",
                        help="synthetic release size (realistic: >=20000 entries, >=150 MB)")
    args = parser.parse_args(argv)

    try:
        states_dir = (args.states or resources.formula_dir()).resolve()
        pillar_file = args.pillar or resources.pillar_example()
        pillar_data = yaml.safe_load(pillar_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        parser.exit(2, f"salt-jail-rehearse: {exc}\n")
    if not isinstance(pillar_data, dict):
        parser.exit(2, f"salt-jail-rehearse: {pillar_file} is not a mapping (expected a jailprov: key)\n")
    if not (states_dir / "jail" / "init.sls").is_file():
        parser.exit(2, f"salt-jail-rehearse: {states_dir} holds no jail/init.sls (the formula)\n")
    root = args.root.resolve()
    try:
        old = check_root(root)
    except RootRefused as err:
        print(err, file=sys.stderr)
        return 2
    if old:
        print(f"== removing the previous rehearsal under {root} ({len(old)} entries: {', '.join(old[:6])}"
              f"{', ...' if len(old) > 6 else ''})")
        if (root / ".rehearsal" / "zfs" / "pools.json").exists():     # a rehearsal pool is mounted below it
            zfspool.main(["--destroy", str(root)])
        rehearsal.clear_network(str(root))  # VNET prisoners' namespaces of an earlier run
        _clear_flags(root)
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARK).parent.mkdir(exist_ok=True)
    (root / MARK).write_text("a scratch root of python -m salt_jail.rehearse: emptied by its next run\n",
                             encoding="utf-8")
    started = time.monotonic()
    config_dir, stop = prepare(root, pillar_data, states_dir, size=args.size)
    failures = 0
    try:
        print(f"== rehearsal host at {root} (pillar: {pillar_file})")
        rc, data, raw = salt_call(config_dir, "jailprov.validate")
        if data and not data.get("valid"):
            print("== the pillar is invalid; nothing was applied:")
            for err in data["errors"]:
                print(f"  {err}")
            return 1

        print("\n== state.apply jail (first run: builds everything)")
        rc, states, raw = salt_call(config_dir, "state.apply", "jail")
        _, changed1, failed = summarize(states if states is not None else raw)
        failures += failed

        print("\n== jailprov.list")
        rc, jails, raw = salt_call(config_dir, "jailprov.list")
        print(jls_table(jails) if isinstance(jails, list) else raw)

        present = [n for n, p in ((pillar_data.get("jailprov") or {}).get("prisoners") or {}).items()
                   if not (p or {}).get("absent")]
        if present:
            print(f"\n== jailprov.ping {present[0]} {HOST_IPV4}")
            rc, pong, raw = salt_call(config_dir, "jailprov.ping", present[0], HOST_IPV4)
            print(json.dumps(pong, indent=2) if pong is not None else raw)
            if not (pong or {}).get("ok"):
                failures += 1

        print("\n== state.apply jail (second run: must change nothing)")
        rc, states, raw = salt_call(config_dir, "state.apply", "jail")
        _, changed2, failed = summarize(states if states is not None else raw)
        failures += failed
        if changed2:
            print(f"!! the second run changed {changed2} state(s): not idempotent")
            failures += 1
    finally:
        stop()
        rehearsal.clear_network(str(root))  # no namespace, bridge or veth outlives the rehearsal
    print(f"\n== done in {time.monotonic() - started:.1f} s; files under {root}; "
          f"commands run: {root / '.rehearsal' / 'commands.log'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
