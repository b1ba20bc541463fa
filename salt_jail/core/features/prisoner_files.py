"""Steps ``resolv_conf``, ``syslog``, ``crontab`` and ``hosts``: base files of the prisoner copied from the host or
edited in place (seed steps 3-6)."""

import ipaddress

from . import prisoner as prisoner_
from ..formats import crontab, syslogconf
from ..formats import hosts as hostsfile
from ..io import textedit
from ..io.textedit import Root
from ..result import StepResult


def resolv_conf(host, cfg, name, test=False):
    """Step 3: the prisoner's ``etc/resolv.conf`` has the content and mode of the host's file -- with its
    ``nameserver`` lines replaced by the prisoner's ``resolvers`` when the pillar gives them.  A copied
    loopback nameserver (a non-VNET prisoner cannot reach the host's) is warned about in the comment."""
    prisoner = prisoner_.present(cfg, name)
    root = prisoner_.open_root(host, prisoner)
    source = cfg.host.resolv_conf
    src = textedit.read_text(
        Root.of_host(host), source,
        hint="step resolv_conf copies it into each prisoner; create it (resolvconf -u, or nameserver lines) "
             "or point jailprov:host:resolv_conf at another file",
    )
    if prisoner.resolvers:
        text = _with_nameservers(src.text, prisoner.resolvers)
        note = f"the host's {source} with jailprov:prisoners:{name}:resolvers as nameservers"
    else:
        text, note = src.text, f"copied from the host's {source}"
    edit = textedit.edit(
        root, "etc/resolv.conf", lambda old: (text, "" if old == text else note),
        test=test, mode=src.mode, create=True,
    )
    result = prisoner_.file_result(edit, test)
    loopback = [] if prisoner.resolvers or _vnet(prisoner) else _loopback_nameservers(text)
    if loopback:
        result.comment += (
            f"; WARNING: {source} names the nameserver {loopback[0]}, the host's loopback (local_unbound?): "
            f"inside prisoner {name} a loopback address is the prisoner's own first address (sys/kern/kern_jail.c, "
            f"prison_remote_ip4()), where no resolver listens, so DNS fails there. Give it resolvers it can "
            f"reach with jailprov:prisoners:{name}:resolvers (e.g. [192.168.11.1])")
    return result


def _nameserver_lines(text):
    """``(index, address)`` of resolv.conf(5) ``nameserver`` lines (the keyword starts the line)."""
    out = []
    for index, line in enumerate(text.splitlines()):
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            out.append((index, words[1]))
    return out


def _with_nameservers(text, addresses):
    """``text`` with its nameserver lines replaced by one per address, where the first one was."""
    lines = text.splitlines()
    found = [index for index, _ in _nameserver_lines(text)]
    at = found[0] if found else len(lines)
    kept = [line for index, line in enumerate(lines) if index not in found]
    at -= sum(1 for index in found if index < at)
    kept[at:at] = [f"nameserver {address}" for address in addresses]
    return "\n".join(kept) + "\n"


def _loopback_nameservers(text):
    addresses = []
    for _, address in _nameserver_lines(text):
        try:
            if ipaddress.ip_address(address.split("%", 1)[0]).is_loopback:
                addresses.append(address)
        except ValueError:
            continue
    return addresses


def _vnet(prisoner):
    """A VNET prisoner has a network stack, and a loopback, of its own."""
    return prisoner.params.get("vnet") in (True, "new") or bool(getattr(prisoner, "vnet", False))


def syslog_console(host, cfg, name, test=False):
    """Step 4: the console rule of the prisoner's ``etc/syslog.conf`` is commented out."""
    root = prisoner_.open_root(host, prisoner_.present(cfg, name))
    return prisoner_.file_result(
        textedit.edit(root, "etc/syslog.conf", syslogconf.comment_console_rule, test=test, hint=prisoner_.BASE_HINT), test
    )


def crontab_adjkerntz(host, cfg, name, test=False):
    """Step 5: the ``adjkerntz -a`` entry of the prisoner's ``etc/crontab`` is commented out."""
    root = prisoner_.open_root(host, prisoner_.present(cfg, name))
    return prisoner_.file_result(
        textedit.edit(root, "etc/crontab", crontab.comment_adjkerntz, test=test, hint=prisoner_.BASE_HINT), test
    )


def hosts(host, cfg, name, test=False):
    """Step 6: the prisoner's ``etc/hosts`` maps each of its addresses to its FQDN and short name."""
    prisoner = prisoner_.present(cfg, name)
    root = prisoner_.open_root(host, prisoner)
    addresses = list(prisoner.ip4) + list(prisoner.ip6)
    if prisoner.network is not None:  # a VNET prisoner's own addresses (salt_jail.core.features.vnet)
        addresses = [a for a in (prisoner.network.address4, prisoner.network.address6) if a]
    if not addresses:
        return StepResult(False, f"prisoner {name} has no ip4/ip6 address; {root.show('etc/hosts')} left alone")
    edit = textedit.edit(
        root, "etc/hosts",
        lambda old: hostsfile.set_addresses(old, addresses, prisoner.hostname, prisoner.shortname),
        test=test, hint=prisoner_.BASE_HINT,
    )
    return prisoner_.file_result(edit, test)
