"""jls(8): list the jails of the simulated kernel (usr.sbin/jls/jls.c, FreeBSD 14).

``jls [--libxo text|json] [-dhNnqsv] [-j jail] [parameter ...]``, with jls.c's four displays:

* default: ``   JID  IP Address      Hostname                      Path`` then
  ``%6d  %-15.15s %-29.29s %.74s`` (``-N``: the name in a 15-column field instead of the jid);
* ``-v``: jid/hostname/path, name/state, cpuset id and every address, each on its own line;
* parameters (named, or ``all`` with ``-n``/``-h``/``-s``): values separated by spaces, ``name=value``
  with ``-n``, booleans as ``name``/``noname``, quoted with ``-q``, a header line with ``-h``, ``-s``
  dropping read-only parameters and those of a disabled parent (``host.*`` unless ``host=new``);
* ``--libxo json``: libxo's JSON with ``jail-information``/``jail`` and jls.c's keys per display
  (``jid ipv4 hostname path``; with ``-v`` ``jid hostname path name state cpusetid ipv4_addrs
  ipv6_addrs``; parameters under their own names, addresses as lists).

``-j`` takes a jid or an exact name; a missing jail is ``jls: jail "x" not found`` (``jail N not found``)
after the header, exit 1.  ``-d`` changes nothing (the simulation has no dying jails).
"""

from ..bsdgetopt import BadOption, getopt
from ..simkernel import PARAMS
from ..xo import JsonWriter, LibxoError, parse_args

USAGE = "usage: jls [-dhNnqv] [-j jail] [param ...]"


class _Output:
    """Text or libxo JSON, and jls's way of dying (xo_errx(): message, then xo_finish())."""

    def __init__(self, ctx, style):
        self.ctx = ctx
        self.json = JsonWriter(version="2") if style == "json" else None
        self.text = []

    def write(self, text):
        if self.json is None:
            self.text.append(text)

    def flush(self):
        self.ctx.out(self.json.finish() if self.json else "".join(self.text))

    def die(self, message):
        self.flush()
        self.ctx.warnx(message)
        return 1


def _export(kernel, jail, name):
    """jailparam_export(): the parameter's value as jls prints it in text."""
    value = kernel.jail_param(jail, name)
    kind = PARAMS[name][0]
    if kind == "bool":
        return "true" if value else "false"
    if kind in ("ip4", "ip6"):
        return ",".join(value)
    return str(value)


def _quoted(pflags, value):
    """quoted_print(): quotes when the value has spaces or quotes (``-q``), or is empty."""
    if value == "":
        return '""'
    qc = '"' if "'" in value else "'" if '"' in value else '"' if (" " in value or "\t" in value) else ""
    return f"{qc}{value}{qc}" if qc and "q" in pflags else value


def _noname(name):
    head, dot, last = name.rpartition(".")
    return f"{head}{dot}no{last}"


def _param_line(out, kernel, jail, names, pflags):
    """print_jail() for explicit parameters (the last display of jls.c)."""
    fields = []
    for name in names:
        kind = PARAMS[name][0]
        value = kernel.jail_param(jail, name)
        if out.json:
            if "n" in pflags and kind == "bool":
                out.json.field(name, "true" if value else "false", quote=False)
            elif kind in ("ip4", "ip6"):
                out.json.open_list(name)
                for addr in value:
                    out.json.leaf(addr)
                out.json.close()
            else:
                out.json.field(name, _export(kernel, jail, name))
            continue
        if "n" in pflags and kind == "bool":
            fields.append(name if value else _noname(name))
            continue
        prefix = f"{name}=" if "n" in pflags else ""
        if kind in ("ip4", "ip6") and not value:
            fields.append(prefix + ('""' if "q" in pflags else "" if "n" in pflags else "-"))
        else:
            fields.append(prefix + _quoted(pflags, _export(kernel, jail, name)))
    out.write(" ".join(fields) + "\n")


def _all_params():
    """The ``all`` pseudo-parameter: top-level names first, then dotted ones, each sorted (sort_param())."""
    return sorted(PARAMS, key=lambda n: ("." in n, n))


def _skipped(kernel, jail, name):
    """``-s``: read-only parameters, and children of a jailsys parameter that is not ``new``."""
    if PARAMS[name][2] == "ro":
        return True
    parent = name.partition(".")[0]
    return "." in name and parent in PARAMS and kernel.jail_param(jail, parent) != "new"


def main(ctx, argv):
    try:
        style, argv = parse_args(argv)
    except LibxoError as error:
        ctx.warnx(error.message)
        return error.code
    out = _Output(ctx, style)
    try:
        opts, params = getopt(argv, "adj:hNnqsv", ctx.prog, ctx.stderr)
    except BadOption:
        return out.die(f"{USAGE}")
    pflags = ""
    jid = jname = None
    for letter, value in opts:
        if letter == "j":
            if value.isdigit() and int(value) != 0:
                jid, jname = int(value), None
            else:
                jid, jname = None, value
        elif letter == "h":
            pflags = pflags.replace("s", "").replace("v", "") + "h"
        elif letter in "Nq":
            pflags += letter
        elif letter == "n":
            pflags = pflags.replace("v", "") + "n"
        elif letter == "s":
            pflags = pflags.replace("h", "").replace("v", "") + "nqs"
        elif letter == "v":
            pflags = pflags.replace("h", "").replace("n", "").replace("s", "") + "v"
    for name in params:
        if name != "all" and name not in PARAMS:
            return out.die(f"unknown parameter: {name}")
    if params:
        pflags = pflags.replace("v", "")
        names = [n for p in params for n in (_all_params() if p == "all" else [p])]
    elif "h" in pflags or "n" in pflags:
        names = _all_params()
    else:
        names = None
    names = list(dict.fromkeys(names)) if names else names

    with ctx.scratch.kernel(write=False) as kernel:
        if "v" in pflags and names is None:
            out.write("   JID  Hostname                      Path\n"
                      "        Name                          State\n"
                      "        CPUSetID\n"
                      "        IP Address(es)\n")
        elif names is None:
            out.write(" JID             IP Address      Hostname                      Path\n" if "N" in pflags
                      else "   JID  IP Address      Hostname                      Path\n")
        elif "h" in pflags:
            out.write(" ".join(names) + "\n")
        if out.json:
            out.json.open_container("jail-information")
            out.json.open_list("jail")
        if jid is not None or jname is not None:
            jail = kernel.find_jail(jid=jid, name=jname)
            if jail is None:
                return out.die(f"jail {jid} not found" if jid is not None else f'jail "{jname}" not found')
            jails = [jail]
        else:
            jails = kernel.jails
        for jail in jails:
            if out.json:
                out.json.open_instance()
            if names is None and "v" in pflags:
                _verbose(out, kernel, jail)
            elif names is None:
                _default(out, kernel, jail, pflags)
            else:
                shown = [n for n in names if not ("s" in pflags and _skipped(kernel, jail, n))]
                _param_line(out, kernel, jail, shown, pflags)
            if out.json:
                out.json.close()
    out.flush()
    return 0


def _default(out, kernel, jail, pflags):
    ip4 = kernel.jail_param(jail, "ip4.addr")
    first = ip4[0] if ip4 else ""
    hostname = kernel.jail_param(jail, "host.hostname")
    if out.json:
        if "N" in pflags:
            out.json.field("name", jail["name"])
        else:
            out.json.field("jid", jail["jid"], quote=False)
        out.json.field("ipv4", first)
        out.json.field("hostname", hostname)
        out.json.field("path", jail["path"])
        return
    head = f" {jail['name']:<15} " if "N" in pflags else f"{jail['jid']:6d}  "
    out.write(f"{head}{first[:15]:<15} {hostname[:29]:<29} {jail['path'][:74]}\n")


def _verbose(out, kernel, jail):
    hostname = kernel.jail_param(jail, "host.hostname")
    addresses = (("ipv4_addrs", kernel.jail_param(jail, "ip4.addr")),
                 ("ipv6_addrs", kernel.jail_param(jail, "ip6.addr")))
    if out.json:
        out.json.field("jid", jail["jid"], quote=False)
        out.json.field("hostname", hostname)
        out.json.field("path", jail["path"])
        out.json.field("name", jail["name"])
        out.json.field("state", "ACTIVE")
        out.json.field("cpusetid", jail["cpusetid"], quote=False)
        for list_name, values in addresses:
            out.json.open_list(list_name)
            for addr in values:
                out.json.leaf(addr)
            out.json.close()
        return
    out.write(f"{jail['jid']:6d}  {hostname[:29]:<29} {jail['path'][:74]}\n"
              f"        {jail['name'][:29]:<29} ACTIVE\n"
              f"        {jail['cpusetid']}\n")
    for _, values in addresses:
        out.write("".join(f"        {addr}\n" for addr in values))
