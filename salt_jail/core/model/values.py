"""The pillar's value types: each parser takes the error collector, the key path and the raw value.

What a key's value may be, and the message when it is not (each starts with the full key path and says what
was expected).  Which key has which type, default and documentation is declared in :mod:`.schema`.
"""

import dataclasses
import difflib
import ipaddress
import posixpath
import re


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


def _params(errs, path, value, managed):
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
        if key in managed:
            errs.add(kpath, f"is written from jailprov's own key {managed[key]!r}; set that instead")
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
