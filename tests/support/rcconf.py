"""rc.conf helpers shared by the rc.conf tests and the rc.conf corpus tier: a Config built directly, the plan
applied twice, and the values /bin/sh itself reads from a file."""

import pathlib
import shutil
import subprocess

from salt_jail.core.formats import rcconf
from salt_jail.core.model import Config, HostConfig, Prisoner

RC = "/etc/rc.conf"
RC_JAIL = "/etc/rc.conf.d/jail"
SH = shutil.which("sh")


def prisoner(name, ip4=(), ip6=(), absent=False):
    return Prisoner(name=name, path=f"/home/jail/{name}", jid=None, ip4=tuple(ip4), ip6=tuple(ip6),
                    hostname=f"{name}.example.org", pw_range=None, defaultpasswd="no", timezone=None,
                    wall_cmos_clock=True, absent=absent)


SEED_PRISONERS = (prisoner("prisoner1", ["192.168.11.31"]), prisoner("prisoner2", ["192.168.11.32"]))


def config(prisoners=SEED_PRISONERS, interface="em0", absent=(), **host):
    """A Config built directly (no pillar parsing); ``host`` overrides the seed's HostConfig fields."""
    fields = {"pw_range": None, "defaultpasswd": "no", "rc_aliases": True, "rc_conf": RC, "jail_list": "auto",
              "parallel_start": None, "resolv_conf": "/etc/resolv.conf", **host}
    return Config(jail_root="/home/jail", release="14.2-RELEASE", arch="amd64",
                  mirrors=("https://download.freebsd.org/releases",), dists=("base",), sha256={},
                  cache_dir="/var/cache/jailprov", interface=interface, jail_conf="/etc/jail.conf",
                  jail_conf_layout="single", host=HostConfig(**fields),
                  prisoners={p.name: p for p in prisoners}, absent=tuple(absent))


def apply_plan(cfg, texts, remove=()):
    """Plan, apply, and check that planning again changes nothing; returns (new texts, plan)."""
    plan = rcconf.plan_rc_conf(cfg, texts, remove)
    new = {**texts, **plan.files}
    again = rcconf.plan_rc_conf(cfg, new, remove)
    assert again.files == {}, f"second run would change {again.files}"
    return new, plan


def sh_values(text, keys, tmp_dir):
    """The values /bin/sh gives ``keys`` after sourcing ``text`` (unset keys are left out)."""
    path = pathlib.Path(tmp_dir) / "rc.conf"
    path.write_text(text, encoding="utf-8")
    out = subprocess.run([SH, "-c", '. "$1"; shift; export "$@"; exec env -0', "sh", str(path), *keys],
                         env={}, capture_output=True, check=True).stdout.decode("utf-8")
    pairs = (entry.split("=", 1) for entry in out.split("\0") if "=" in entry)
    return {key: value for key, value in pairs if key in keys}
