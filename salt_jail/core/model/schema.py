"""Every key of the ``jailprov`` pillar, declared once.

Each :class:`Key` says what a pillar key is: its parser (type and validation, :mod:`.values`), its default, its
documentation, whether each prisoner must set it itself (``unique``: refused under ``jailprov:defaults``), what
no two prisoners may share (``identities``), its value in the placeholder of an absent prisoner, and the
jail.conf parameter written from it.  Everything else is derived from the three sections below (``TOP``,
``HOST``, ``PRISONER``):

* the dataclasses :class:`Config`, :class:`HostConfig` and :class:`Prisoner` (one field per key),
* the key lists the parser checks names against (``PRISONER_KEYS``, ``UNIQUE_KEYS``, ``DEFAULT_KEYS``...),
* the placeholder prisoner of a name listed only under ``jailprov:absent`` (:meth:`Schema.absent_prisoner`),
* the README's pillar reference table (:meth:`Schema.reference_table`; ``python -m salt_jail.core.model.schema
  --readme README.md`` rewrites it, and a test checks that the README holds it).

Adding a pillar key is one declaration here plus its feature's use of the new field.

A parser is called as ``parse(ctx, path, raw, default)``: ``path`` is the full key path for error messages,
``raw`` the pillar's value (for a prisoner key: its own value over ``jailprov:defaults``), ``default`` the
declared default.  It reports problems with ``ctx.errs.add(path, message)`` and returns the model value.  A
parser that needs another key's value asks ``ctx.value(name)`` (parsed on first use, once), so keys are
declared in the order the error messages list them, not in the order they depend on each other.
"""

import copy
import dataclasses
import difflib
import posixpath
import re
import sys
import typing

from . import network as net
from . import zfs as zfsmodel
from .values import (
    ARCHES, BELOW_ROOT, IFNAME_MAX, JAIL_MAX, LAYOUTS, NAME_MAX, PATH_MAX, PILLAR_KEY, RC_CONF_FILES,
    SYSTEM_DIRS, PwRange, _abs_path, _addresses, _bool, _check_keys, _defaultpasswd, _devfs_at_every_start,
    _dists, _Errors, _hostname, _kp, _mapping, _mirrors, _params, _positive_int, _prisoner_name, _prisoner_type,
    _pw_range, _release, _releases_dir, _resolvers, _root_password, _sha256, _sysvipc, _timezone, _type_name,
)
from ..errors import ValidationError

_SAME = object()
_MISSING = object()
_PENDING = object()


@dataclasses.dataclass(frozen=True)
class Key:
    """One pillar key."""

    name: str
    parse: typing.Optional[typing.Callable]     # parse(ctx, path, raw, default) -> model value; None: no value
    doc: typing.Union[str, typing.Callable, None]  # the README's "meaning" (callable: doc(schema)); None: no row
    default: typing.Any = None                  # the model value when the pillar does not set the key
    shown: typing.Optional[str] = None          # the README's "default" column (None: from ``default``)
    unique: bool = False                        # prisoner keys: each prisoner sets it itself, never in defaults
    identities: typing.Optional[typing.Callable] = None  # value -> [(kind, value, subkey)] no two prisoners share
    absent: typing.Any = _SAME                  # prisoner keys: value in an absent prisoner's placeholder
    field: bool = True                          # a field of the section's dataclass
    store: typing.Optional[typing.Callable] = None  # store(ctx) -> the field's value (default: the parsed one)
    repr: bool = True                           # False: kept out of the dataclass's repr (secrets)
    in_defaults: typing.Optional[typing.Callable] = None  # parse(ctx, path, raw) once under jailprov:defaults
    label: typing.Optional[str] = None          # the README's "key" column (None: from the key path)
    jail_param: typing.Optional[str] = None     # the jail.conf parameter written from this key
    type: typing.Any = typing.Any               # the dataclass field's annotation

    @property
    def placeholder(self):
        return copy.copy(self.default if self.absent is _SAME else self.absent)


class Context:
    """What a parser sees: the mapping its key lives in, the other keys' values, the error collector.

    A prisoner's context also has ``name``, ``own`` (its own mapping), ``defaults`` (the parsed
    ``jailprov:defaults``), ``forced_absent`` and ``top`` (the top-level context); the host's has ``top``.
    """

    def __init__(self, schema, kind, errs, data, path, **facts):
        self.schema, self.errs, self.data, self.path = schema, errs, data, path
        self.kind, self.keys = kind, schema.by_name[kind]
        self.values = {}
        self._memo = {}
        self.__dict__.update(facts)

    def value(self, name):
        """The parsed value of key ``name`` of this section (parsed now if it was not yet)."""
        value = self.values.get(name, _MISSING)
        if value is _MISSING:
            return self._parse(name, self.keys[name])
        if value is _PENDING:
            raise RuntimeError(f"pillar key {name!r} depends on itself (schema declaration)")
        return value

    def _parse(self, name, key):
        self.values[name] = _PENDING
        value = self.values[name] = (key.parse or _no_value)(self, f"{self.path}:{name}", self.data.get(name),
                                                            key.default)
        return value

    def fields(self):
        """The section's dataclass fields: ``{name: value}``."""
        values = self.values
        return {name: (store(self) if store else values[name]) for name, store in self.schema.fields[self.kind]}

    def once(self, tag, compute):
        """``compute()`` once per section, for two parsers that need the same intermediate result."""
        if tag not in self._memo:
            self._memo[tag] = compute()
        return self._memo[tag]

    def parse_all(self):
        values, data, prefix = self.values, self.data, self.path + ":"
        for name, parse, default in self.schema.parsers[self.kind]:
            if name not in values:
                values[name] = _PENDING
                values[name] = parse(self, prefix + name, data.get(name), default)


def _no_value(_ctx, _path, _raw, _default):
    """The parser of a key whose value another key's parser reads (``mirror``: see ``mirrors``)."""
    return None


# --------------------------------------------------------------------------------------------------
# Parsers of single keys (the value types themselves are in .values)


def _boolean(ctx, path, raw, default):
    return _bool(ctx.errs, path, raw, default)


def _abspath(ctx, path, raw, default):
    return _abs_path(ctx.errs, path, raw, default)


def _choice(choices, message):
    """A key whose value is one of ``choices`` (``null`` is a wrong value, not the default)."""
    def parse(ctx, path, _raw, default):
        name = path.rsplit(":", 1)[1]
        value = ctx.data.get(name, default)
        if value not in choices:
            ctx.errs.add(path, message(value))
            return default
        return value
    return parse


def _jail_root(ctx, path, raw, default):
    jail_root = _abs_path(ctx.errs, path, raw, default)
    if jail_root in SYSTEM_DIRS:
        what = "'/'" if jail_root == "/" else f"the host's system directory {jail_root}"
        ctx.errs.add(path, f"must not be {what} (expected a directory that holds only prisoners, "
                           "e.g. /usr/local/jails or /home/jail)")
    elif jail_root and len(jail_root) + 1 + NAME_MAX > PATH_MAX - BELOW_ROOT:
        ctx.errs.add(path, f"is {len(jail_root)} characters long; a prisoner path below it must leave "
                           f"room for its files within PATH_MAX ({PATH_MAX}); use a shorter path")
    return jail_root


def _arch(ctx, path, _raw, default):
    arch = ctx.data.get("arch", default)
    if arch not in ARCHES:
        hint = difflib.get_close_matches(str(arch), ARCHES, n=1)
        ctx.errs.add(path, f"{arch!r} is not a supported arch (expected one of: {', '.join(ARCHES)})"
                           + (f"; did you mean {hint[0]!r}?" if hint else ""))
    return arch


def _interface(ctx, path, raw, _default):
    if raw is not None and (not isinstance(raw, str) or len(raw) > IFNAME_MAX
                            or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.]*", raw)):
        ctx.errs.add(path, f"{raw!r} is not a network interface name (expected e.g. em0: a letter, "
                           f"then letters, digits, '_' or '.', at most {IFNAME_MAX} characters)")
        return None
    return raw


def _section(kind):
    """The parser of a mapping whose keys are a section of their own (``host``)."""
    def parse(ctx, path, raw, _default):
        schema = ctx.schema
        data = _mapping(ctx.errs, path, raw) or {}
        _check_keys(ctx.errs, path, data, schema.names[kind])
        sub = Context(schema, kind, ctx.errs, data, path, top=ctx)
        sub.parse_all()
        return schema.classes[kind](**sub.fields())
    return parse


def _defaults(ctx, path, raw, _default):
    schema = ctx.schema
    defaults = _mapping(ctx.errs, path, raw) or {}
    for key in defaults:
        if key in schema.UNIQUE_KEYS:
            ctx.errs.add(f"{path}:{key}", "is unique to each prisoner; set it under jailprov:prisoners:<name>")
    _check_keys(ctx.errs, path, {k: v for k, v in defaults.items() if k not in schema.UNIQUE_KEYS},
                schema.DEFAULT_KEYS)
    defaults = {k: v for k, v in defaults.items() if k in schema.DEFAULT_KEYS}
    for key in schema.sections["prisoner"]:
        if key.in_defaults and key.name in defaults:
            defaults[key.name] = key.in_defaults(ctx, f"{path}:{key.name}", defaults[key.name])
    return defaults


def _absent_names(ctx, path, raw, _default):
    names = []
    if raw is not None:
        if not isinstance(raw, list):
            ctx.errs.add(path, f"expected a list of prisoner names, got {_type_name(raw)}")
        else:
            for i, name in enumerate(raw):
                if _prisoner_name(ctx.errs, f"{path}[{i}]", name):
                    names.append(name)
    return names


def _prisoners(ctx, path, raw, _default):
    schema = ctx.schema
    absent_names = ctx.value("absent")
    jail_root = ctx.value("jail_root")
    prisoners = {}
    for name, praw in (_mapping(ctx.errs, path, raw) or {}).items():
        if not _prisoner_name(ctx.errs, f"{path}:{name}", name):
            continue
        prisoner = schema.parse_prisoner(ctx, name, praw, forced_absent=name in absent_names)
        if prisoner is not None:
            prisoners[name] = prisoner
    for name in absent_names:
        if name not in prisoners:
            prisoners[name] = schema.absent_prisoner(name, posixpath.join(jail_root or "/home/jail", name))
    _check_unique(ctx, prisoners.values())
    for name, sub, message in net.check_bridges(prisoners.values()):
        ctx.errs.add(_kp("prisoners", name, sub), message)
    _check_ranges(ctx.errs, ctx.value("host"), prisoners.values())
    return prisoners


def _check_unique(ctx, prisoners):
    """What the keys' ``identities`` say no two prisoners may share."""
    keyed = [key for key in ctx.schema.sections["prisoner"] if key.identities]
    seen = {}
    for p in prisoners:
        if p.absent:
            continue
        for key in keyed:
            for kind, value, sub in key.identities(getattr(p, key.name)):
                other = seen.get((kind, value))
                if other and other != p.name:
                    ctx.errs.add(_kp("prisoners", p.name, sub),
                                 f"{kind} {value!r} is already used by prisoner {other!r} (each prisoner needs its own)")
                else:
                    seen[(kind, value)] = p.name


def _disjoint(ranges):
    """Whether no two of ``ranges`` (IdRange) overlap: sorted by start, each starts after every earlier one ends
    (n log n: the pairwise check below, which names each overlapping pair, is quadratic in the prisoners)."""
    end = None
    for rng in sorted(ranges, key=lambda r: r.lo):
        if end is not None and rng.lo <= end:
            return False
        end = rng.hi if end is None else max(end, rng.hi)
    return True


def _check_ranges(errs, host, prisoners):
    owners = []
    if host.pw_range:
        owners.append((_kp("host", "pw_range"), "the host", host.pw_range))
    owners += [(_kp("prisoners", p.name, "pw_range"), f"prisoner {p.name!r}", p.pw_range)
               for p in prisoners if p.pw_range and not p.absent]
    if all(_disjoint([getattr(rng, kind) for _path, _who, rng in owners]) for kind in ("uid", "gid")):
        return
    for i, (path, who, rng) in enumerate(owners):
        for _opath, owho, orng in owners[:i]:
            for kind in ("uid", "gid"):
                a, b = getattr(rng, kind), getattr(orng, kind)
                if a.overlaps(b):
                    errs.add(f"{path}:{kind}", f"[{a.lo}, {a.hi}] overlaps {owho} (its {kind} range is "
                                               f"[{b.lo}, {b.hi}]; UID/GID ranges must not overlap)")


def _releases_dir_key(ctx, path, raw, _default):
    jail_root = ctx.value("jail_root")
    value = _releases_dir(ctx.errs, raw, jail_root, ctx.value("prisoners").values())
    problem = zfsmodel.releases_overlap(ctx.value("zfs"), jail_root, value)
    if problem:
        ctx.errs.add(path, problem)
    return value


def _rc_aliases(ctx, path, raw, default):
    value = _bool(ctx.errs, path, raw, default)
    if value and ctx.top.value("interface") is None and "interface" not in ctx.top.data:
        ctx.errs.add(path, "needs jailprov:interface (the interface that carries the aliases, e.g. em0)")
    return value


def _rc_conf(ctx, path, raw, default):
    value = _abs_path(ctx.errs, path, raw, default)
    if value not in RC_CONF_FILES:
        ctx.errs.add(path, f"{value!r} is not supported (expected one of: {', '.join(RC_CONF_FILES)})")
        return default
    return value


def _parallel_start(ctx, path, raw, _default):
    return None if raw is None else _bool(ctx.errs, path, raw, None)


# Prisoner keys


def _absent(ctx, path, raw, default):
    return _bool(ctx.errs, path, raw, default) or ctx.forced_absent


def _prisoner_hostname(ctx, path, raw, _default):
    if ctx.value("absent") and raw is None:     # an absent prisoner only needs its name
        return ""
    return _hostname(ctx.errs, path, raw) or ""


def _jid(ctx, path, raw, _default):
    if raw is not None and (not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= JAIL_MAX):
        ctx.errs.add(path, f"{raw!r} is not a jid (expected an integer 1..{JAIL_MAX}, JAIL_MAX)")
        return None
    return raw


def _ip(version):
    def parse(ctx, path, raw, _default):
        return _addresses(ctx.errs, path, raw, version)
    return parse


def _own_network(ctx):
    """The prisoner's parsed ``network`` (also for an absent one, whose field is None): errors once."""
    def compute():
        network, errors = net.parse(ctx.name, net.merge(ctx.defaults.get("network"), ctx.own.get("network")),
                                    bool(ctx.own.get("ip4") or ctx.own.get("ip6")), ctx.value("hostname"))
        for sub, message in errors:
            ctx.errs.add(f"{ctx.path}:network" + (f":{sub}" if sub else ""), message)
        return network
    return ctx.once("network", compute)


def _network(ctx, _path, _raw, _default):
    network = _own_network(ctx)
    return None if ctx.value("absent") else network


def _prisoner_params(ctx, path, _raw, _default):
    own = ctx.own.get("params")
    params = dict(ctx.defaults.get("params") or {})
    params.update(_params(ctx.errs, path, own, ctx.schema.MANAGED_PARAMS))
    _devfs_at_every_start(ctx.errs, ctx.path, params, own=own)
    params = {k: v for k, v in params.items() if v is not None}
    network = _own_network(ctx)
    if isinstance(own, (dict, type(None))):
        params = net.own_params(params, own, network)
    for key, message in net.check_params(params, network):
        ctx.errs.add(f"{path}:{key}", message)
    return params


def _type(ctx, path, raw, _default):
    return _prisoner_type(ctx.errs, path, raw, ctx.value("params"))


def _simple(parser):
    """``parser(errs, path, raw)`` of :mod:`.values` as a key parser."""
    def parse(ctx, path, raw, _default):
        return parser(ctx.errs, path, raw)
    return parse


def _defaulted(parser):
    """``parser(errs, path, raw, default)`` of :mod:`.values` as a key parser."""
    def parse(ctx, path, raw, default):
        return parser(ctx.errs, path, raw, default)
    return parse


def _params_in_defaults(ctx, path, raw):
    return _params(ctx.errs, path, raw, ctx.schema.MANAGED_PARAMS)


def _zfs_properties_in_defaults(ctx, path, raw):
    return zfsmodel.parse_properties(ctx.errs, path, raw)


# --------------------------------------------------------------------------------------------------
# The declarations

#: ``jailprov:host:<key>``: the host's own configuration.
HOST = (
    Key("pw_range", _simple(_pw_range), "`{uid: [lo, hi], gid: [lo, hi]}` for the host's pw.conf",
        type=typing.Optional[PwRange]),
    Key("defaultpasswd", _defaulted(_defaultpasswd), "pw.conf `defaultpasswd` on the host", default="no"),
    Key("rc_aliases", _rc_aliases, "write `ifconfig_<if>_aliasN` lines for prisoner addresses (needs "
        "`interface`)", default=False),
    Key("rc_conf", _rc_conf, "where `jail_*` variables go (`/etc/rc.conf` or `/etc/rc.conf.d/jail`)",
        default="/etc/rc.conf"),
    Key("jail_list", _choice(("auto", "explicit"), lambda v: (
        f"{v!r} is not valid (expected 'auto': keep an empty jail_list empty and add to a non-empty one, or "
        "'explicit': list the prisoners)")),
        "`auto`: leave an empty jail_list empty (all jails start), add to a non-empty one; `explicit`: list "
        "the prisoners", default="auto"),
    Key("parallel_start", _parallel_start, "`jail_parallel_start`", shown="unset",
        type=typing.Optional[bool]),
    Key("resolv_conf", _abspath, "the file copied into prisoners", default="/etc/resolv.conf"),
)

#: ``jailprov:prisoners:<name>:<key>`` (and, unless ``unique``, ``jailprov:defaults:<key>``).
PRISONER = (
    Key("jid", _jid, "1..999999", shown="auto", unique=True, jail_param="jid",
        identities=lambda v: [("jid", v, "jid")] if v is not None else []),
    Key("ip4", _ip(4), "an IPv4 address or a list (shared-IP prisoners)", default=(), unique=True,
        jail_param="ip4.addr", identities=lambda v: [("address", a, f"ip4[{i}]") for i, a in enumerate(v)]),
    Key("ip6", _ip(6), "an IPv6 address or a list (shared-IP prisoners)", default=(), unique=True,
        jail_param="ip6.addr", identities=lambda v: [("address", a, f"ip6[{i}]") for i, a in enumerate(v)]),
    Key("hostname", _prisoner_hostname, "FQDN", shown="required", absent="", unique=True,
        jail_param="host.hostname",
        identities=lambda v: [("hostname", v.lower(), "hostname")] if v else []),
    Key("pw_range", _simple(_pw_range), "the prisoner's UID/GID range (no overlaps anywhere)", unique=True,
        type=typing.Optional[PwRange]),
    Key("defaultpasswd", _defaulted(_defaultpasswd), "pw.conf `defaultpasswd` in the prisoner", default="no"),
    Key("timezone", _simple(_timezone), "`Asia/Tokyo` → `/etc/localtime` link", type=typing.Optional[str]),
    Key("wall_cmos_clock", _boolean, "create `/etc/wall_cmos_clock`", default=True, absent=False),
    Key("root_password", _simple(_root_password), "crypt(3) hash or `locked`; set through pw(8)'s stdin, "
        "never logged", repr=False, type=typing.Optional[str]),
    Key("params", _prisoner_params, "extra jail.conf parameters; `null` removes a default", default={},
        in_defaults=_params_in_defaults),
    Key("sysvipc", _simple(_sysvipc), "`true`: own SysV IPC namespace; `inherit`: share the host's",
        default=False),
    Key("absent", _absent, "destroy this prisoner and its host configuration", default=False, absent=True,
        unique=True),
    Key("resolvers", _simple(_resolvers), "the prisoner's own nameservers (its resolv.conf) instead of the "
        "host's", default=()),
    Key("type", _type, "`thick`: a base of its own; `thin`: read-only nullfs mounts of the shared "
        "release tree (see below)", default="thick"),
    Key("storage", zfsmodel.storage, "`directory` (a tree under jail_root), `dataset` (a dataset of its own, "
        "thick extraction) or `clone` (`zfs clone -p` of the release snapshot); needs `zfs`",
        default="directory"),
    Key("dataset", zfsmodel.dataset, "the prisoner's dataset; must lie below `zfs.dataset`",
        shown="`<zfs.dataset>/NAME`", unique=True, type=typing.Optional[str],
        identities=lambda v: [("dataset", v, "dataset")] if v else []),
    Key("zfs_properties", zfsmodel.zfs_properties, "`{refquota: 10G, compression: gzip, …}` set locally and "
        "enforced, compared as `zfs get -Hp` prints them", default={},
        in_defaults=_zfs_properties_in_defaults),
    Key("snapshots", zfsmodel.snapshots, "snapshot names that must exist (taken once)", default=()),
    Key("network", _network, "`{mode: vnet, bridge: bridgeN, uplink, ip4: a.b.c.d/len, gateway, ip6, gateway6, "
        "mac}`: a VNET prisoner (below)", shown="`{mode: shared}`", identities=net.network_identities,
        type=typing.Optional[net.Network]),
    Key("auto_restart", _boolean, "`false`: a change that needs a restart fails instead of restarting the "
        "prisoner", default=True),
)


def _defaults_doc(schema):
    unique = ", ".join(f"`{name}`" for name in schema.UNIQUE_KEYS)
    return f"any prisoner key except {unique}; merged into every prisoner"


#: ``jailprov:<key>``.
TOP = (
    Key("jail_root", _jail_root, "parent of the prisoners' roots (absolute, no `..`, not a system directory)",
        default="/home/jail", jail_param="path"),
    Key("release", _simple(_release), "`14.2-RELEASE`, `14.2-RC1`, `15.0-BETA3`, …", shown="required",
        type=typing.Optional[str]),
    Key("arch", _arch, ", ".join(f"`{a}`" for a in ARCHES), default="amd64"),
    Key("mirror", None, None, field=False),
    Key("mirrors", lambda ctx, path, raw, default: _mirrors(ctx.errs, ctx.data, ctx.value("release")),
        "one URL or a list tried in order; `https`, `http`, `ftp`, `file`, `salt`", default=(),
        label="`mirror` / `mirrors`", shown="`https://download.freebsd.org/releases`"),
    Key("dists", lambda ctx, path, raw, default: _dists(ctx.errs, raw), "distribution sets to extract",
        default=("base",), shown="`[base]`"),
    Key("sha256", lambda ctx, path, raw, default: _sha256(ctx.errs, raw), "`{dist: digest}` pins; win over "
        "MANIFEST", default={}),
    Key("cache_dir", _abspath, "verified release cache on the minion", default="/var/cache/jailprov"),
    Key("interface", _interface, "host interface for the prisoners' addresses (jail.conf `interface`)",
        jail_param="interface", type=typing.Optional[str]),
    Key("jail_conf", _abspath, "the host's jail.conf", default="/etc/jail.conf"),
    Key("jail_conf_layout", _choice(LAYOUTS, lambda v: f"{v!r} is not valid (expected one of: {', '.join(LAYOUTS)})"),
        "`single` or `jail.conf.d` (`/etc/jail.conf.d/NAME.conf` + `.include`)", default="single"),
    Key("host", _section("host"), None),
    Key("defaults", _defaults, _defaults_doc, field=False),
    Key("prisoners", _prisoners, None, default={}),
    Key("absent", _absent_names, "names of prisoners to destroy", default=(), shown="`[]`",
        store=lambda ctx: tuple(n for n, p in ctx.value("prisoners").items() if p.absent)),
    Key("releases_dir", _releases_dir_key, "thin prisoners' shared release trees (`RELEASE-ARCH-DISTS`, "
        "read-only to them)", default="", shown="`JAIL_ROOT/.releases`"),
    Key("zfs", lambda ctx, path, raw, default: zfsmodel.parse_zfs(ctx.errs, path, raw), "the prisoners' "
        "parent dataset (e.g. `zroot/jails`), mounted on `jail_root` (created if missing)", label="`zfs.dataset`",
        type=typing.Optional[zfsmodel.ZfsConfig]),
    Key("download_deadline", _defaulted(lambda errs, path, raw, default: _positive_int(
        errs, path, raw, default, "seconds, e.g. 3600")), "seconds one download may take", shown="from the size",
        type=typing.Optional[int]),
    Key("download_min_rate", _defaulted(lambda errs, path, raw, default: _positive_int(
        errs, path, raw, default, "bytes per second, e.g. 65536")), "bytes/s a download must keep up (sets its "
        "default deadline)", default=65536),
)


# --------------------------------------------------------------------------------------------------
# What is derived from the declarations


def _dataclass(name, leading, keys, doc, namespace=None):
    """A frozen dataclass with ``leading`` fields, then one field per key (its default: the key's)."""
    fields = list(leading)
    for key in keys:
        if not key.field:
            continue
        if isinstance(key.default, (dict, list, set)):
            spec = dataclasses.field(default_factory=(lambda d=key.default: copy.copy(d)), repr=key.repr)
        else:
            spec = dataclasses.field(default=key.default, repr=key.repr)
        fields.append((key.name, key.type, spec))
    lines = [doc, "", "Fields (declared in salt_jail.core.model.schema):", ""]
    lines += [f"* ``{n}``" for n, *_ in leading]
    lines += [f"* ``{k.name}``: {_doc_text(k, None)}" for k in keys if k.field and k.doc and not callable(k.doc)]
    ns = {"__module__": "salt_jail.core.model", "__doc__": "\n".join(lines)}
    ns.update(namespace or {})
    return dataclasses.make_dataclass(name, fields, namespace=ns, frozen=True)


def _doc_text(key, schema):
    return key.doc(schema) if callable(key.doc) else key.doc


def _shown(key):
    if key.shown is not None:
        return key.shown
    if key.default is None or key.default in ((), {}, ""):
        return "—"
    if isinstance(key.default, bool):
        return f"`{str(key.default).lower()}`"
    return f"`{key.default}`"


def _config_prisoner(self, name):
    return self.prisoners[name]


def _config_present(self):
    return [p for p in self.prisoners.values() if not p.absent]


def _shortname(self):
    return self.hostname.split(".", 1)[0]


class Schema:
    """The three sections of declarations and what derives from them: dataclasses, key lists, the
    placeholder of an absent prisoner, the pillar reference table, and :meth:`parse`."""

    def __init__(self, top=TOP, host=HOST, prisoner=PRISONER):
        self.sections = {"top": tuple(top), "host": tuple(host), "prisoner": tuple(prisoner)}
        self.names = {kind: tuple(k.name for k in keys) for kind, keys in self.sections.items()}
        self.by_name = {kind: {k.name: k for k in keys} for kind, keys in self.sections.items()}
        self.fields = {kind: tuple((k.name, k.store) for k in keys if k.field) for kind, keys in self.sections.items()}
        self.parsers = {kind: tuple((k.name, k.parse or _no_value, k.default) for k in keys)
                        for kind, keys in self.sections.items()}
        self.TOP_KEYS, self.HOST_KEYS, self.PRISONER_KEYS = (self.names[k] for k in ("top", "host", "prisoner"))
        #: Keys a prisoner must set itself: they are unique per prisoner.
        self.UNIQUE_KEYS = tuple(k.name for k in prisoner if k.unique)
        self.DEFAULT_KEYS = tuple(k.name for k in prisoner if not k.unique)
        #: jail.conf parameters the model writes itself, with the key they come from; pillar ``params``
        #: must not set them.
        self.MANAGED_PARAMS = {"name": "the prisoner's key"}
        self.MANAGED_PARAMS.update({k.jail_param: k.name for k in (*top, *prisoner) if k.jail_param})
        self.Prisoner = _dataclass("Prisoner", [("name", str), ("path", str)], prisoner,
                                   "A prisoner of the pillar (``path``: its root, jail_root/name).",
                                   {"shortname": property(_shortname)})
        self.HostConfig = _dataclass("HostConfig", [], host, "``jailprov:host``.")
        self.Config = _dataclass("Config", [], top, "The ``jailprov`` pillar, validated.",
                                 {"prisoner": _config_prisoner, "present": property(_config_present)})
        self.classes = {"top": self.Config, "host": self.HostConfig, "prisoner": self.Prisoner}

    def with_key(self, kind, key, after=None):
        """A new schema with ``key`` added to section ``kind`` (after key ``after``, else last)."""
        keys = list(self.sections[kind])
        at = len(keys) if after is None else [k.name for k in keys].index(after) + 1
        keys.insert(at, key)
        return Schema(**{**self.sections, kind: keys})

    # ----------------------------------------------------------------------------------------------

    def parse(self, data):
        """``jailprov`` subtree -> :class:`Config`, or ValidationError listing every problem at once."""
        errs = _Errors()
        if not isinstance(data, dict):
            raise ValidationError([f"{PILLAR_KEY}: expected a mapping, got {_type_name(data)}"])
        _check_keys(errs, PILLAR_KEY, data, self.TOP_KEYS)
        ctx = Context(self, "top", errs, data, PILLAR_KEY)
        ctx.parse_all()
        if errs.items:
            raise ValidationError(errs.items)
        return self.Config(**ctx.fields())

    def parse_prisoner(self, top, name, raw, forced_absent=False):
        """One prisoner's mapping -> :class:`Prisoner` (None when it is not a mapping); errors to ``top.errs``."""
        path = _kp("prisoners", name)
        data = _mapping(top.errs, path, raw)
        if data is None:
            return None
        _check_keys(top.errs, path, data, self.PRISONER_KEYS)
        defaults = top.value("defaults")
        merged = dict(defaults)
        merged.update(data)
        ctx = Context(self, "prisoner", top.errs, merged, path, top=top, name=name, own=data,
                      defaults=defaults, forced_absent=forced_absent)
        ctx.parse_all()
        jail_root = top.value("jail_root")
        return self.Prisoner(name=name, path=posixpath.join(jail_root, name) if jail_root else "",
                             **ctx.fields())

    def absent_prisoner(self, name, path):
        """The placeholder of a prisoner known only by name (listed under ``jailprov:absent``, or found on
        the host): every key at its declared ``absent`` value."""
        return self.Prisoner(name=name, path=path,
                             **{k.name: k.placeholder for k in self.sections["prisoner"] if k.field})

    # ----------------------------------------------------------------------------------------------

    def reference_rows(self):
        """``[(key, default, meaning)]`` of the pillar reference, in declaration order."""
        rows = []
        for key in self.sections["top"]:
            if key.name == "host":
                rows += [(f"`host.{k.name}`", _shown(k), _doc_text(k, self)) for k in self.sections["host"]]
            elif key.name == "prisoners":
                rows += [(f"`prisoners.NAME.{k.name}`", _shown(k), _doc_text(k, self))
                         for k in self.sections["prisoner"] if k.doc]
            elif key.doc:
                rows.append((key.label or f"`{key.name}`", _shown(key), _doc_text(key, self)))
        return rows

    def reference_table(self):
        """The README's pillar reference table (Markdown)."""
        lines = ["| key | default | meaning |", "|---|---|---|"]
        lines += [f"| {k} | {d} | {m} |" for k, d, m in self.reference_rows()]
        return "\n".join(lines) + "\n"


SCHEMA = Schema()

#: Where the README's table sits: between these lines.
README_BEGIN = "<!-- pillar-reference: generated from salt_jail/core/model/schema.py "\
               "(python -m salt_jail.core.model.schema --readme README.md) -->"
README_END = "<!-- end of pillar-reference -->"


def readme_with_table(text, schema=SCHEMA):
    """``text`` (the README) with the table between the markers replaced by ``schema``'s."""
    head, sep, rest = text.partition(README_BEGIN + "\n")
    _old, sep2, tail = rest.partition(README_END)
    if not sep or not sep2:
        raise ValueError(f"the README has no {README_BEGIN!r} ... {README_END!r} section")
    return head + sep + schema.reference_table() + sep2 + tail


def main(argv=None):
    """``python -m salt_jail.core.model.schema``: print the pillar reference table, or with ``--readme
    FILE`` rewrite that file's table in place."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--readme"] and len(argv) == 2:
        with open(argv[1], encoding="utf-8") as f:
            text = f.read()
        new = readme_with_table(text)
        if new != text:
            with open(argv[1], "w", encoding="utf-8") as f:
                f.write(new)
        return 0
    if argv:
        print("usage: python -m salt_jail.core.model.schema [--readme README.md]", file=sys.stderr)
        return 2
    sys.stdout.write(SCHEMA.reference_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
