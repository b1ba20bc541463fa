"""The ``jailprov`` pillar as typed, validated objects.

:func:`parse` turns the pillar subtree into a :class:`Config`, merging ``defaults`` into every prisoner
and reporting every problem at once (:class:`~salt_jail.core.errors.ValidationError`), each message
naming the full key path, what is wrong and what is expected.  Nothing downstream re-validates.
"""

import dataclasses
import difflib
import ipaddress
import posixpath
import re
import typing

from ..tools import zfs as zfskeys
from ..features import vnet
from ..errors import ValidationError


@dataclasses.dataclass(frozen=True)
class IdRange:
    lo: int
    hi: int

    def overlaps(self, other):
        return self.lo <= other.hi and other.lo <= self.hi


@dataclasses.dataclass(frozen=True)
class PwRange:
    uid: IdRange
    gid: IdRange


@dataclasses.dataclass(frozen=True)
class Prisoner:
    name: str
    path: str                      # host path of the prisoner root: jail_root/name
    jid: typing.Optional[int]
    ip4: tuple                     # of str
    ip6: tuple                     # of str
    hostname: str                  # FQDN
    pw_range: typing.Optional[PwRange]
    defaultpasswd: str             # pw.conf defaultpasswd: no|yes|none|random
    timezone: typing.Optional[str]  # e.g. "Asia/Tokyo"; None = leave /etc/localtime alone
    wall_cmos_clock: bool          # create etc/wall_cmos_clock (seed: True)
    root_password: typing.Optional[str] = dataclasses.field(repr=False, default=None)  # crypt(3) hash or "locked"
    params: dict = dataclasses.field(default_factory=dict)  # extra jail.conf params (name -> True/False/int/str/list)
    sysvipc: typing.Union[bool, str] = False                # False | True (new) | "inherit"
    absent: bool = False
    resolvers: tuple = ()          # the prisoner's own nameservers (resolv.conf), instead of the host's
    type: str = "thick"            # "thick": a full base of its own | "thin": shares a release tree (core/thin.py)
    storage: str = "directory"                              # directory | dataset | clone (core/zfs.py)
    dataset: typing.Optional[str] = None                    # the prisoner's dataset (dataset/clone storage)
    zfs_properties: dict = dataclasses.field(default_factory=dict)  # property -> value given to zfs set
    snapshots: tuple = ()                                   # snapshot names that must exist
    network: typing.Optional[vnet.Network] = None          # None = the host's stack (shared IP); see core.vnet
    auto_restart: bool = True      # False: a change that needs a restart fails instead of restarting it

    @property
    def shortname(self):
        return self.hostname.split(".", 1)[0]


@dataclasses.dataclass(frozen=True)
class HostConfig:
    pw_range: typing.Optional[PwRange]
    defaultpasswd: str
    rc_aliases: bool               # write ifconfig_<if>_aliasN lines for each prisoner address
    rc_conf: str                   # where jail_* variables go: /etc/rc.conf or /etc/rc.conf.d/jail
    jail_list: str                 # "auto" (leave empty list empty, add to non-empty) | "explicit" (seed list)
    parallel_start: typing.Optional[bool]
    resolv_conf: str               # host file copied into prisoners (/etc/resolv.conf)


@dataclasses.dataclass(frozen=True)
class Config:
    jail_root: str
    release: str
    arch: str
    mirrors: tuple                 # of str, tried in order
    dists: tuple                   # of str, e.g. ("base",)
    sha256: dict                   # dist -> pinned hex digest (wins over MANIFEST)
    cache_dir: str                 # host path of the release cache
    interface: typing.Optional[str]
    jail_conf: str                 # /etc/jail.conf
    jail_conf_layout: str          # "single" | "jail.conf.d"
    host: HostConfig
    prisoners: dict                # name -> Prisoner, in pillar order (absent ones included, absent=True)
    absent: tuple                  # names to destroy (from jailprov:absent and prisoners marked absent)
    releases_dir: str = ""         # host dir of the shared release trees of thin prisoners (core/thin.py)
    zfs: typing.Optional[zfskeys.ZfsConfig] = None  # jailprov:zfs (the prisoners' parent dataset)
    download_min_rate: int = 65536             # bytes/s: the default overall deadline of a download follows
    download_deadline: typing.Optional[int] = None  # seconds for one download; None = from its size

    def prisoner(self, name):
        return self.prisoners[name]

    @property
    def present(self):
        return [p for p in self.prisoners.values() if not p.absent]


# --------------------------------------------------------------------------------------------------
# Parsing and validation
# --------------------------------------------------------------------------------------------------

PILLAR_KEY = "jailprov"
JAIL_MAX = 999999
ARCHES = ("amd64", "arm64", "i386", "riscv64", "armv7")
LAYOUTS = ("single", "jail.conf.d")
DEFAULTPASSWD = ("no", "yes", "none", "random")
RC_CONF_FILES = ("/etc/rc.conf", "/etc/rc.conf.d/jail")
MIRROR_SCHEMES = ("https", "http", "ftp", "file", "salt")
DEFAULT_MIRROR = "https://download.freebsd.org/releases"
#: Where FreeBSD publishes each kind of build (the mirror layout of download.freebsd.org): RELEASE, RC and
#: BETA builds under releases/, moved to the archive mirror once the release is past end of life; ALPHA,
#: CURRENT and STABLE builds are snapshots, under snapshots/ (release engineering: "ALPHA builds are
#: snapshots", articles/freebsd-releng).
ARCHIVE_MIRROR = "http://ftp-archive.freebsd.org/pub/FreeBSD-Archive/old-releases"
SNAPSHOT_MIRROR = "https://download.freebsd.org/snapshots"
DEFAULT_MIRRORS = {"release": (DEFAULT_MIRROR, ARCHIVE_MIRROR), "snapshot": (SNAPSHOT_MIRROR,)}


def release_kind(release):
    """``snapshot`` for ALPHA, CURRENT and STABLE builds, ``release`` for RELEASE, RC and BETA builds."""
    return "snapshot" if re.search(r"-(ALPHA\d+|CURRENT|STABLE)$", release or "") else "release"

PRISONER_TYPES = ("thick", "thin")
#: Default of jailprov:releases_dir below jail_root: a prisoner name cannot start with '.' (_NAME_RE).
RELEASES_DIR = ".releases"

#: jail.conf parameters the model writes itself; pillar ``params`` must not set them.
MANAGED_PARAMS = {
    "jid": "jid",
    "name": "the prisoner's key",
    "path": "jail_root",
    "ip4.addr": "ip4",
    "ip6.addr": "ip6",
    "host.hostname": "hostname",
    "interface": "interface",
}

TOP_KEYS = (
    "jail_root", "release", "arch", "mirror", "mirrors", "dists", "sha256", "cache_dir", "interface",
    "jail_conf", "jail_conf_layout", "host", "defaults", "prisoners", "absent", "releases_dir", "zfs",
    "download_deadline", "download_min_rate",
)
HOST_KEYS = ("pw_range", "defaultpasswd", "rc_aliases", "rc_conf", "jail_list", "parallel_start", "resolv_conf")
PRISONER_KEYS = (
    "jid", "ip4", "ip6", "hostname", "pw_range", "defaultpasswd", "timezone", "wall_cmos_clock",
    "root_password", "params", "sysvipc", "absent", "resolvers", "type", "storage", "dataset",
    "zfs_properties", "snapshots", "network", "auto_restart",
)
# Keys a prisoner must set itself: they are unique per prisoner.
UNIQUE_KEYS = ("jid", "ip4", "ip6", "hostname", "pw_range", "absent", "dataset")
DEFAULT_KEYS = tuple(k for k in PRISONER_KEYS if k not in UNIQUE_KEYS)

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_PARAM_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_LABEL_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_RELEASE_RE = re.compile(r"\d{1,4}\.\d{1,4}-(RELEASE|RC\d{1,3}|BETA\d{1,3}|ALPHA\d{1,3}|CURRENT|STABLE)")
_TZ_RE = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")
# The crypt(3) formats FreeBSD verifies (lib/libcrypt/crypt.c, crypt_types[]: "des" with no magic --
# traditional 13-character DES, and extended DES "_..." in crypt-des.c --, "md5" $1$, "blf" $2 (crypt-blowfish.c
# takes the minor versions a, b and y), "nth" $3$, "sha256" $5$, "sha512" $6$).  A hash with another magic
# ($y$ yescrypt, $7$ scrypt) is fed to the default DES and never matches: such a root could never log in.
_B64 = "[./0-9A-Za-z]"
_CRYPT_RE = re.compile(
    rf"({_B64}{{13}}"                                       # traditional DES
    rf"|_{_B64}{{19}}"                                       # extended DES: _ count(4) salt(4) hash(11)
    rf"|\$1\$[^$:\s]*\${_B64}+"                            # MD5
    rf"|\$2[aby]\$[0-9]{{2}}\${_B64}+"                       # bcrypt
    r"|\$3\$\$[0-9a-f]{32}"                                  # NT hash
    rf"|\$[56]\$(rounds=[0-9]+\$)?[^$:\s]*\${_B64}+)"       # SHA-256, SHA-512
)
CRYPT_FORMATS = ("DES (13 characters)", "extended DES (_...)", "$1$ (MD5)", "$2a$/$2b$/$2y$ (bcrypt)",
                 "$3$ (NT hash)", "$5$ (SHA-256)", "$6$ (SHA-512)")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")

# Length limits, from what each value becomes on FreeBSD (sys/syslimits.h, sys/param.h, net/if.h).
#: A prisoner name is a path component (NAME_MAX 255) and a jail name (MAXHOSTNAMELEN 256 with its NUL).
NAME_MAX = 255
#: A path handed to the kernel (PATH_MAX 1024 with its NUL).
PATH_MAX = 1023
#: Room kept below a prisoner root for the paths jailprov opens there (etc/..., var/db/...,
#: usr/share/zoneinfo/<timezone>): a prisoner path longer than PATH_MAX minus this cannot be worked in.
BELOW_ROOT = 128
#: A timezone name below usr/share/zoneinfo/ (within BELOW_ROOT).
TIMEZONE_MAX = 96
#: An interface name (IFNAMSIZ 16 with its NUL).
IFNAME_MAX = 15
#: A crypt(3) hash as pw(8) reads it (_PASSWORD_LEN 128).
PASSWORD_MAX = 127
#: A jail parameter name (sysctl names: MAXPATHLEN is generous; jail(8) knows none longer than 40).
PARAM_NAME_MAX = 128
#: A release name such as 14.2-RELEASE.
RELEASE_MAX = 32

#: Host directories that must never be (or hold) jail_root: a prisoner named ``tmp`` under ``/`` would
#: otherwise be the host's /tmp.  jail_root is compared after normalisation (``//``, trailing ``/``, ``.``).
SYSTEM_DIRS = ("/", "/etc", "/usr", "/var", "/tmp", "/bin", "/sbin", "/lib", "/libexec", "/boot", "/dev",
               "/root", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/libexec", "/usr/share", "/usr/local",
               "/var/db", "/var/run", "/var/log")


class _Errors:
    """Collects every problem in one pass; each message starts with the full key path."""

    def __init__(self):
        self.items = []

    def add(self, path, message):
        self.items.append(f"{path}: {message}")


def _kp(*parts):
    out = PILLAR_KEY
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f":{part}"
    return out


def _type_name(value):
    return {
        bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
        dict: "a mapping", type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)


def _check_keys(errs, path, data, known):
    for key in data:
        if key in known:
            continue
        hint = difflib.get_close_matches(str(key), known, n=1)
        msg = f"unknown key {key!r}"
        msg += f"; did you mean {hint[0]!r}?" if hint else f"; expected one of: {', '.join(known)}"
        errs.add(f"{path}:{key}", msg)


def _mapping(errs, path, value, what="a mapping"):
    if value is None:
        return {}
    if not isinstance(value, dict):
        errs.add(path, f"expected {what}, got {_type_name(value)}")
        return None
    return value


def _string(errs, path, value, default=None, required=False):
    if value is None:
        if required:
            errs.add(path, "is required (expected a string)")
        return default
    if not isinstance(value, str) or not value:
        errs.add(path, f"expected a non-empty string, got {_type_name(value)}")
        return default
    return value


def _bool(errs, path, value, default):
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("yes", "no", "true", "false", "on", "off"):
        return value.lower() in ("yes", "true", "on")
    errs.add(path, f"expected true or false, got {_type_name(value)} {value!r}")
    return default


def _abs_path(errs, path, value, default):
    value = _string(errs, path, value, default)
    if value is None:
        return None
    if not value.startswith("/"):
        errs.add(path, f"{value!r} is not an absolute path (expected e.g. /home/jail)")
        return default
    if ".." in value.split("/"):
        errs.add(path, f"{value!r} contains '..' (expected a plain absolute path)")
        return default
    if any(c in value for c in "\n\0"):
        errs.add(path, "contains a newline or NUL byte")
        return default
    if len(value) > PATH_MAX:
        errs.add(path, f"is {len(value)} characters long; a FreeBSD path is at most {PATH_MAX} (PATH_MAX)")
        return default
    return normalise_path(value)


def normalise_path(value):
    """An absolute path in its one canonical spelling: ``//home//jail/`` and ``/home/./jail`` are
    ``/home/jail``.  (posixpath.normpath keeps a leading ``//``, which POSIX leaves implementation-defined;
    FreeBSD reads it as ``/``.)"""
    norm = posixpath.normpath(value)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    return norm


def _id_range(errs, path, value):
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        errs.add(path, f"expected [first, last], e.g. [20000, 29999], got {value!r}")
        return None
    lo, hi = value
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (lo, hi)):
        errs.add(path, f"expected two integers, got {value!r}")
        return None
    if lo < 1 or hi > 4294967294:
        errs.add(path, f"{value!r} is out of range (ids are 1..4294967294)")
        return None
    if lo > hi:
        errs.add(path, f"{value!r} is reversed or empty (first must be <= last)")
        return None
    return IdRange(lo, hi)


def _pw_range(errs, path, value):
    if value is None:
        return None
    data = _mapping(errs, path, value)
    if data is None:
        return None
    _check_keys(errs, path, data, ("uid", "gid"))
    ok = True
    ranges = {}
    for key in ("uid", "gid"):
        if key not in data:
            errs.add(f"{path}:{key}", "is required (expected [first, last])")
            ok = False
            continue
        ranges[key] = _id_range(errs, f"{path}:{key}", data[key])
        ok = ok and ranges[key] is not None
    return PwRange(ranges["uid"], ranges["gid"]) if ok else None


def _defaultpasswd(errs, path, value, default="no"):
    if value is None:
        return default
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value in DEFAULTPASSWD:
        return value
    errs.add(path, f"{value!r} is not a pw.conf defaultpasswd value (expected one of: {', '.join(DEFAULTPASSWD)})")
    return default


def _addresses(errs, path, value, version):
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        errs.add(path, f"expected an address or a list of addresses, got {_type_name(value)}")
        return ()
    out = []
    for i, item in enumerate(items):
        ipath = f"{path}[{i}]" if not isinstance(value, str) else path
        try:
            addr = ipaddress.ip_address(item) if isinstance(item, str) else None
        except ValueError:
            addr = None
        if addr is None or addr.version != version:
            errs.add(ipath, f"{item!r} is not a valid IPv{version} address")
            continue
        out.append(str(addr))
    return tuple(out)


def _resolvers(errs, path, value):
    """Nameserver addresses (IPv4 or IPv6) for the prisoner's resolv.conf."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        errs.add(path, f"expected an address or a non-empty list of addresses, got {_type_name(value)}")
        return ()
    out = []
    for i, item in enumerate(items):
        try:
            out.append(str(ipaddress.ip_address(item)) if isinstance(item, str) else None)
        except ValueError:
            out.append(None)
        if out[-1] is None:
            errs.add(f"{path}[{i}]" if not isinstance(value, str) else path,
                     f"{item!r} is not an IPv4 or IPv6 address (a nameserver for the prisoner's resolv.conf)")
    return tuple(a for a in out if a)


def _hostname(errs, path, value):
    value = _string(errs, path, value, required=True)
    if value is None:
        return None
    if len(value) > 254:
        errs.add(path, f"is {len(value)} characters long; a DNS name is at most 253 (plus a final '.')")
        return None
    name = value[:-1] if value.endswith(".") else value
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        errs.add(path, f"{value!r} is not a valid DNS name (letters, digits and '-' in dot-separated labels)")
        return None
    return name


def _prisoner_name(errs, path, name):
    if isinstance(name, str) and len(name) > NAME_MAX:
        errs.add(path, f"is {len(name)} characters long: a prisoner name becomes a path component and a jail "
                       f"name, at most {NAME_MAX} characters (NAME_MAX, MAXHOSTNAMELEN)")
        return False
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        errs.add(path, f"{name!r} is not a valid jail name: use letters, digits, '_' and '-' (no '/', '.', "
                       "whitespace or leading '-'), as a path component and a jail.conf name")
        return False
    if name == "all":
        errs.add(path, "'all' is reserved: jailprov.start/stop all means every jail rc.d/jail starts; "
                       "choose another name")
        return False
    if name.isdigit():
        errs.add(path, f"{name!r} is all digits: jail(8) refuses a numeric name unless it equals the jid, and "
                       "jls -j / jexec read a number as a jid; use a name with a letter")
        return False
    return True


def _params(errs, path, value):
    data = _mapping(errs, path, value)
    if data is None:
        return {}
    out = {}
    for key, val in data.items():
        kpath = f"{path}:{key}"
        if isinstance(key, str) and len(key) > PARAM_NAME_MAX:
            errs.add(f"{path}:{key[:40]}...", f"is {len(key)} characters long; a jail parameter name is at most "
                                              f"{PARAM_NAME_MAX}")
            continue
        if not isinstance(key, str) or not _PARAM_RE.fullmatch(key):
            errs.add(kpath, "is not a jail.conf parameter name (expected e.g. allow.raw_sockets)")
            continue
        if key in MANAGED_PARAMS:
            errs.add(kpath, f"is written from jailprov's own key {MANAGED_PARAMS[key]!r}; set that instead")
            continue
        if key == "allow.sysvipc":
            errs.add(kpath, "is deprecated in jail(8); use the prisoner key 'sysvipc: true' (own IPC namespace) "
                            "or 'sysvipc: inherit' (share the host's)")
            continue
        if val is None:
            out[key] = None  # removes a default
        elif isinstance(val, (bool, int, str)):
            out[key] = val
        elif isinstance(val, list) and val and all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                                   for v in val):
            out[key] = [str(v) for v in val]
        else:
            errs.add(kpath, f"expected a boolean, number, string or list of strings, got {_type_name(val)}")
    return out


def _devfs_at_every_start(errs, path, params, own=None):
    """The prisoner's block keeps ``mount.devfs``: jail(8) then mounts devfs (with devfs_ruleset, default 4)
    at every start, the boot's ``service jail start`` included (usr.sbin/jail/jail.c, the mount.devfs step;
    libexec/rc/rc.d/jail only runs jail -c).  A devfs mounted by hand is not mounted again after a reboot,
    so dropping mount.devfs (false, or null to remove the default) is refused; unset, it is written."""
    keys = [k for k in params if k in ("mount.devfs", "mount.nodevfs")]
    if not keys:
        params["mount.devfs"] = True
    for key in keys:
        value = params[key]
        off = value is None or value is False or (
            isinstance(value, (int, str)) and not isinstance(value, bool) and str(value).strip().lower() in ("0", "false"))
        if key == "mount.nodevfs" and value is not None:
            off = not off
        if not off:
            continue
        where = f"{path}:params:{key}" if isinstance(own, dict) and key in own else _kp("defaults", "params", key)
        message = (f"{value!r} drops mount.devfs from the prisoner's jail.conf block, so after a reboot rc.d/jail "
                   "starts it with an empty /dev (a devfs mounted by hand is not mounted again); remove the key: "
                   "jailprov writes mount.devfs, and jail(8) mounts devfs with devfs_ruleset at every start")
        if f"{where}: {message}" not in errs.items:     # a default's error, once for all prisoners
            errs.add(where, message)


def _sysvipc(errs, path, value):
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if value == "inherit":
        return "inherit"
    if value == "new":
        return True
    errs.add(path, f"{value!r} is not valid (expected true = own IPC namespace, 'inherit' = share the host's, "
                   "or false)")
    return False


def _prisoner_type(errs, path, value, params):
    if value is None:
        return "thick"
    if value not in PRISONER_TYPES:
        errs.add(path, f"{value!r} is not a prisoner type (expected 'thick': a full base of its own, or 'thin': "
                       "read-only nullfs mounts of one shared release tree)")
        return "thick"
    if value == "thin" and "mount.fstab" in params:
        errs.add(path.rsplit(":", 1)[0] + ":params:mount.fstab",
                 "a thin prisoner's mount.fstab is written by jailprov (/etc/fstab.<name>, its read-only "
                 "release mounts); remove it, or use type: thick")
    return value


def _releases_dir(errs, value, jail_root, prisoners):
    default = posixpath.join(jail_root, RELEASES_DIR) if jail_root else None
    path = _abs_path(errs, _kp("releases_dir"), value, default)
    if path is None or not jail_root:
        return path or ""
    if path in ("/", jail_root):
        errs.add(_kp("releases_dir"), f"{path!r} must be a directory of its own (default {default})")
    for p in prisoners:
        if path == p.path or path.startswith(p.path + "/") or p.path.startswith(path + "/"):
            errs.add(_kp("releases_dir"), f"{path!r} overlaps prisoner {p.name!r} (its root is {p.path}; expected a "
                                          f"place no prisoner name can take, such as the default {default})")
    return path


def _timezone(errs, path, value):
    if value is None:
        return None
    value = _string(errs, path, value)
    if value is None:
        return None
    if len(value) > TIMEZONE_MAX:
        errs.add(path, f"is {len(value)} characters long; a zoneinfo name is at most {TIMEZONE_MAX} here")
        return None
    if value.startswith("/") or ".." in value.split("/") or not _TZ_RE.fullmatch(value):
        errs.add(path, f"{value!r} is not a zoneinfo name (expected e.g. Asia/Tokyo: relative, no '..')")
        return None
    return value


def _root_password(errs, path, value):
    if value is None:
        return None
    # Never echo the value: it is a secret.
    if not isinstance(value, str):
        errs.add(path, f"expected a crypt(3) hash string or 'locked', got {_type_name(value)}")
        return None
    if len(value) > PASSWORD_MAX:
        errs.add(path, f"is {len(value)} characters long; pw(8) reads at most {PASSWORD_MAX} (value not shown)")
        return None
    if value == "locked" or _CRYPT_RE.fullmatch(value):
        return value
    errs.add(path, "is not a crypt(3) hash FreeBSD verifies (accepted: " + ", ".join(CRYPT_FORMATS)
             + "; e.g. '$6$salt$hash', from `openssl passwd -6`) or the word 'locked' (value not shown)")
    return None


def _release(errs, path, value):
    value = _string(errs, path, value, required=True)
    if value is None:
        return None
    if len(value) > RELEASE_MAX or not _RELEASE_RE.fullmatch(value):
        hint = ""
        if re.fullmatch(r"\d+\.\d+-RELEASE-p\d+", value):
            hint = "; mirrors carry the base release only: use " + value.rsplit("-p", 1)[0] + \
                   " and apply patch levels with freebsd-update"
        errs.add(path, f"{value!r} is not a FreeBSD release name (expected e.g. 14.2-RELEASE, 14.2-RC1, "
                       f"15.0-BETA3, 15.0-ALPHA1, 15.0-CURRENT){hint}")
        return None
    return value


def _positive_int(errs, path, value, default, what):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        errs.add(path, f"{value!r} is not a positive whole number ({what})")
        return default
    return value


def _mirrors(errs, data, release=None):
    if "mirror" in data and "mirrors" in data:
        errs.add(_kp("mirrors"), "set either 'mirror' or 'mirrors', not both")
    default = DEFAULT_MIRRORS[release_kind(release)]
    if "mirror" not in data and "mirrors" not in data:
        return default
    raw = data.get("mirrors", data.get("mirror"))
    key = "mirrors" if "mirrors" in data else "mirror"
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        errs.add(_kp(key), f"expected a URL or a non-empty list of URLs, got {_type_name(raw)}")
        return default
    out = []
    for i, url in enumerate(items):
        upath = _kp(key) if isinstance(raw, str) else _kp(key, i)
        scheme = url.split("://", 1)[0] if isinstance(url, str) and "://" in url else None
        if scheme not in MIRROR_SCHEMES:
            errs.add(upath, f"{url!r} is not a mirror URL (expected a {', '.join(s + '://' for s in MIRROR_SCHEMES)}"
                            " URL)")
            continue
        out.append(url.rstrip("/"))
    return tuple(out)


def _dists(errs, value):
    if value is None:
        return ("base",)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        errs.add(_kp("dists"), "expected a non-empty list of dist names, e.g. [base, lib32]")
        return ("base",)
    out = []
    for i, dist in enumerate(items):
        if not isinstance(dist, str) or not re.fullmatch(r"[a-z0-9_\-]{1,64}", dist):
            errs.add(_kp("dists", i), f"{dist!r} is not a dist name (expected e.g. base, lib32)")
        elif dist not in out:
            out.append(dist)
    if out and "base" not in out:
        errs.add(_kp("dists"), "must include 'base' (a prisoner's userland)")
    return tuple(out)


def _sha256(errs, value):
    data = _mapping(errs, _kp("sha256"), value)
    out = {}
    for dist, digest in (data or {}).items():
        if not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest.lower()):
            errs.add(_kp("sha256", dist), "expected 64 hex digits (the dist's SHA256)")
        else:
            out[dist] = digest.lower()
    return out


def _host(errs, value):
    path = _kp("host")
    data = _mapping(errs, path, value) or {}
    _check_keys(errs, path, data, HOST_KEYS)
    rc_conf = _abs_path(errs, f"{path}:rc_conf", data.get("rc_conf"), "/etc/rc.conf")
    if rc_conf not in RC_CONF_FILES:
        errs.add(f"{path}:rc_conf", f"{rc_conf!r} is not supported (expected one of: {', '.join(RC_CONF_FILES)})")
        rc_conf = "/etc/rc.conf"
    jail_list = data.get("jail_list", "auto")
    if jail_list not in ("auto", "explicit"):
        errs.add(f"{path}:jail_list", f"{jail_list!r} is not valid (expected 'auto': keep an empty jail_list empty"
                                      " and add to a non-empty one, or 'explicit': list the prisoners)")
        jail_list = "auto"
    parallel = data.get("parallel_start")
    if parallel is not None:
        parallel = _bool(errs, f"{path}:parallel_start", parallel, None)
    return HostConfig(
        pw_range=_pw_range(errs, f"{path}:pw_range", data.get("pw_range")),
        defaultpasswd=_defaultpasswd(errs, f"{path}:defaultpasswd", data.get("defaultpasswd")),
        rc_aliases=_bool(errs, f"{path}:rc_aliases", data.get("rc_aliases"), False),
        rc_conf=rc_conf,
        jail_list=jail_list,
        parallel_start=parallel,
        resolv_conf=_abs_path(errs, f"{path}:resolv_conf", data.get("resolv_conf"), "/etc/resolv.conf"),
    )


def _prisoner(errs, name, raw, defaults, jail_root, forced_absent=False, zfs_cfg=None):
    path = _kp("prisoners", name)
    data = _mapping(errs, path, raw)
    if data is None:
        return None
    _check_keys(errs, path, data, PRISONER_KEYS)
    absent = _bool(errs, f"{path}:absent", data.get("absent"), False) or forced_absent
    merged = dict(defaults)
    merged.update({k: v for k, v in data.items() if k != "params"})
    params = dict(defaults.get("params") or {})
    params.update(_params(errs, f"{path}:params", data.get("params")))
    _devfs_at_every_start(errs, path, params, own=data.get("params"))
    params = {k: v for k, v in params.items() if v is not None}
    if absent:
        # An absent prisoner only needs its name; whatever else is there must still be well-formed.
        hostname = merged.get("hostname")
        hostname = _hostname(errs, f"{path}:hostname", hostname) if hostname is not None else ""
    else:
        hostname = _hostname(errs, f"{path}:hostname", merged.get("hostname"))
    jid = data.get("jid")
    if jid is not None and (not isinstance(jid, int) or isinstance(jid, bool) or not 1 <= jid <= JAIL_MAX):
        errs.add(f"{path}:jid", f"{jid!r} is not a jid (expected an integer 1..{JAIL_MAX}, JAIL_MAX)")
        jid = None
    ip4 = _addresses(errs, f"{path}:ip4", data.get("ip4"), 4)
    ip6 = _addresses(errs, f"{path}:ip6", data.get("ip6"), 6)
    storage, dataset, zfs_properties, snapshots = zfskeys.parse_prisoner(errs, path, name, data, defaults, zfs_cfg)
    network, net_errors = vnet.parse(name, vnet.merge(defaults.get("network"), data.get("network")),
                                     bool(data.get("ip4") or data.get("ip6")), hostname or "")
    for sub, message in net_errors:
        errs.add(f"{path}:network" + (f":{sub}" if sub else ""), message)
    if isinstance(data.get("params"), (dict, type(None))):
        params = vnet.own_params(params, data.get("params"), network)
    for key, message in vnet.check_params(params, network):
        errs.add(f"{path}:params:{key}", message)
    return Prisoner(
        name=name,
        path=posixpath.join(jail_root, name) if jail_root else "",
        jid=jid,
        ip4=ip4,
        ip6=ip6,
        hostname=hostname or "",
        pw_range=_pw_range(errs, f"{path}:pw_range", data.get("pw_range")),
        defaultpasswd=_defaultpasswd(errs, f"{path}:defaultpasswd", merged.get("defaultpasswd")),
        timezone=_timezone(errs, f"{path}:timezone", merged.get("timezone")),
        wall_cmos_clock=_bool(errs, f"{path}:wall_cmos_clock", merged.get("wall_cmos_clock"), True),
        root_password=_root_password(errs, f"{path}:root_password", merged.get("root_password")),
        params=params,
        sysvipc=_sysvipc(errs, f"{path}:sysvipc", merged.get("sysvipc")),
        absent=absent,
        resolvers=_resolvers(errs, f"{path}:resolvers", merged.get("resolvers")),
        type=_prisoner_type(errs, f"{path}:type", merged.get("type"), params),
        storage=storage,
        dataset=dataset,
        zfs_properties=zfs_properties,
        snapshots=snapshots,
        network=None if absent else network,
        auto_restart=_bool(errs, f"{path}:auto_restart", merged.get("auto_restart"), True),
    )


def _check_unique(errs, prisoners):
    seen = {}
    for p in prisoners:
        if p.absent:
            continue
        keys = [("jid", p.jid, "jid")] if p.jid is not None else []
        keys += [("address", a, f"ip4[{i}]") for i, a in enumerate(p.ip4)]
        keys += [("address", a, f"ip6[{i}]") for i, a in enumerate(p.ip6)]
        if p.hostname:
            keys.append(("hostname", p.hostname.lower(), "hostname"))
        if p.dataset:
            keys.append(("dataset", p.dataset, "dataset"))
        keys += vnet.identities(p)
        for kind, value, sub in keys:
            other = seen.get((kind, value))
            if other and other != p.name:
                errs.add(_kp("prisoners", p.name, sub),
                         f"{kind} {value!r} is already used by prisoner {other!r} (each prisoner needs its own)")
            else:
                seen[(kind, value)] = p.name


def _check_ranges(errs, host, prisoners):
    owners = []
    if host.pw_range:
        owners.append((_kp("host", "pw_range"), "the host", host.pw_range))
    owners += [(_kp("prisoners", p.name, "pw_range"), f"prisoner {p.name!r}", p.pw_range)
               for p in prisoners if p.pw_range and not p.absent]
    for i, (path, who, rng) in enumerate(owners):
        for _opath, owho, orng in owners[:i]:
            for kind in ("uid", "gid"):
                a, b = getattr(rng, kind), getattr(orng, kind)
                if a.overlaps(b):
                    errs.add(f"{path}:{kind}", f"[{a.lo}, {a.hi}] overlaps {owho} (its {kind} range is "
                                               f"[{b.lo}, {b.hi}]; UID/GID ranges must not overlap)")


def parse(data):
    """Parse and validate the ``jailprov`` pillar subtree; returns :class:`Config` or raises ValidationError.

    Every problem in the pillar is reported at once, each naming its full key path.
    """
    errs = _Errors()
    if not isinstance(data, dict):
        raise ValidationError([f"{PILLAR_KEY}: expected a mapping, got {_type_name(data)}"])
    _check_keys(errs, PILLAR_KEY, data, TOP_KEYS)
    jail_root = _abs_path(errs, _kp("jail_root"), data.get("jail_root"), "/home/jail")
    if jail_root in SYSTEM_DIRS:
        what = "'/'" if jail_root == "/" else f"the host's system directory {jail_root}"
        errs.add(_kp("jail_root"), f"must not be {what} (expected a directory that holds only prisoners, "
                                   "e.g. /usr/local/jails or /home/jail)")
    elif jail_root and len(jail_root) + 1 + NAME_MAX > PATH_MAX - BELOW_ROOT:
        errs.add(_kp("jail_root"), f"is {len(jail_root)} characters long; a prisoner path below it must leave "
                                   f"room for its files within PATH_MAX ({PATH_MAX}); use a shorter path")
    release = _release(errs, _kp("release"), data.get("release"))
    arch = data.get("arch", "amd64")
    if arch not in ARCHES:
        hint = difflib.get_close_matches(str(arch), ARCHES, n=1)
        errs.add(_kp("arch"), f"{arch!r} is not a supported arch (expected one of: {', '.join(ARCHES)})"
                              + (f"; did you mean {hint[0]!r}?" if hint else ""))
    interface = data.get("interface")
    if interface is not None and (not isinstance(interface, str) or len(interface) > IFNAME_MAX
                                  or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.]*", interface)):
        errs.add(_kp("interface"), f"{interface!r} is not a network interface name (expected e.g. em0: a letter, "
                                   f"then letters, digits, '_' or '.', at most {IFNAME_MAX} characters)")
        interface = None
    layout = data.get("jail_conf_layout", "single")
    if layout not in LAYOUTS:
        errs.add(_kp("jail_conf_layout"), f"{layout!r} is not valid (expected one of: {', '.join(LAYOUTS)})")
        layout = "single"
    host = _host(errs, data.get("host"))
    if host.rc_aliases and interface is None and "interface" not in data:
        errs.add(_kp("host", "rc_aliases"), "needs jailprov:interface (the interface that carries the aliases, "
                                           "e.g. em0)")

    defaults = _mapping(errs, _kp("defaults"), data.get("defaults")) or {}
    for key in defaults:
        if key in UNIQUE_KEYS:
            errs.add(_kp("defaults", key), "is unique to each prisoner; set it under jailprov:prisoners:<name>")
    _check_keys(errs, _kp("defaults"), {k: v for k, v in defaults.items() if k not in UNIQUE_KEYS},
                DEFAULT_KEYS)
    defaults = {k: v for k, v in defaults.items() if k in DEFAULT_KEYS}
    if "params" in defaults:
        defaults["params"] = _params(errs, _kp("defaults", "params"), defaults["params"])
    if "zfs_properties" in defaults:
        defaults["zfs_properties"] = zfskeys.parse_properties(errs, _kp("defaults", "zfs_properties"),
                                                          defaults["zfs_properties"])
    zfs_cfg = zfskeys.parse_zfs(errs, _kp("zfs"), data.get("zfs"))

    absent_raw = data.get("absent")
    absent_names = []
    if absent_raw is not None:
        if not isinstance(absent_raw, list):
            errs.add(_kp("absent"), f"expected a list of prisoner names, got {_type_name(absent_raw)}")
        else:
            for i, name in enumerate(absent_raw):
                if _prisoner_name(errs, _kp("absent", i), name):
                    absent_names.append(name)

    raw_prisoners = _mapping(errs, _kp("prisoners"), data.get("prisoners"))
    prisoners = {}
    for name, raw in (raw_prisoners or {}).items():
        if not _prisoner_name(errs, _kp("prisoners", name), name):
            continue
        p = _prisoner(errs, name, raw, defaults, jail_root, forced_absent=name in absent_names, zfs_cfg=zfs_cfg)
        if p is not None:
            prisoners[name] = p
    for name in absent_names:
        if name not in prisoners:
            prisoners[name] = Prisoner(
                name=name, path=posixpath.join(jail_root or "/home/jail", name), jid=None, ip4=(), ip6=(),
                hostname="", pw_range=None, defaultpasswd="no", timezone=None, wall_cmos_clock=False, absent=True)
    _check_unique(errs, prisoners.values())
    for name, sub, message in vnet.check_bridges(prisoners.values()):
        errs.add(_kp("prisoners", name, sub), message)
    _check_ranges(errs, host, prisoners.values())

    mirrors = _mirrors(errs, data, release)
    dists = _dists(errs, data.get("dists"))
    sha256 = _sha256(errs, data.get("sha256"))
    cache_dir = _abs_path(errs, _kp("cache_dir"), data.get("cache_dir"), "/var/cache/jailprov")
    jail_conf = _abs_path(errs, _kp("jail_conf"), data.get("jail_conf"), "/etc/jail.conf")
    releases_dir = _releases_dir(errs, data.get("releases_dir"), jail_root, prisoners.values())
    zfskeys.check_combinations(errs, _kp, zfs_cfg, jail_root, releases_dir, prisoners.values())
    min_rate = _positive_int(errs, _kp("download_min_rate"), data.get("download_min_rate"), 65536,
                             "bytes per second, e.g. 65536")
    deadline = _positive_int(errs, _kp("download_deadline"), data.get("download_deadline"), None,
                             "seconds, e.g. 3600")
    if errs.items:
        raise ValidationError(errs.items)
    return Config(
        jail_root=jail_root,
        release=release,
        arch=arch,
        mirrors=mirrors,
        dists=dists,
        sha256=sha256,
        cache_dir=cache_dir,
        interface=interface,
        jail_conf=jail_conf,
        jail_conf_layout=layout,
        host=host,
        prisoners=prisoners,
        absent=tuple(n for n, p in prisoners.items() if p.absent),
        releases_dir=releases_dir,
        zfs=zfs_cfg,
        download_min_rate=min_rate,
        download_deadline=deadline,
    )


def validate(data):
    """Return the list of validation errors for a ``jailprov`` subtree (empty when it is valid)."""
    try:
        parse(data)
    except ValidationError as exc:
        return exc.errors
    return []


def from_pillar(pillar):
    """Parse the ``jailprov`` key of a whole pillar dict."""
    if not isinstance(pillar, dict) or PILLAR_KEY not in pillar:
        raise ValidationError([f"{PILLAR_KEY}: missing from the pillar (expected a '{PILLAR_KEY}:' mapping; "
                               "see pillar.example)"])
    return parse(pillar[PILLAR_KEY])
