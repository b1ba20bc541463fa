"""Step ``pw_conf`` (the prisoner's UID/GID range), the host's pw.conf, and the UID/GID audit (seed step 7)."""

from . import prisoner as prisoner_
from ..errors import JailprovError
from ..formats import passwd, pwconf
from ..io import textedit
from ..io.textedit import Root
from ..result import StepResult


def _pw_conf(root, pw_range, defaultpasswd, test, host=None):
    values = pwconf.settings(pw_range, defaultpasswd)
    edit = textedit.edit(root, "etc/pw.conf", lambda old: pwconf.set_values(old, values), test=test, create=True)
    if host is not None and not test:       # the host's own pw.conf: recorded for clean (features/hostledger.py)
        from . import hostledger  # pylint: disable=import-outside-toplevel
        hostledger.note(host, [edit])
    return prisoner_.file_result(edit, test)


def pw_conf(host, cfg, name, test=False):
    """Step 7: the prisoner's ``etc/pw.conf`` carries its pw_range and defaultpasswd."""
    prisoner = prisoner_.present(cfg, name)
    root = prisoner_.open_root(host, prisoner)
    if prisoner.pw_range is None:
        return StepResult(False, f"no pw_range for prisoner {name}; {root.show('etc/pw.conf')} left alone")
    return _pw_conf(root, prisoner.pw_range, prisoner.defaultpasswd, test)


def host_pw_conf(host, cfg, test=False):
    """Step 7 on the host: ``/etc/pw.conf`` carries ``jailprov:host``'s pw_range and defaultpasswd."""
    if cfg.host.pw_range is None:
        return StepResult(False, "no jailprov:host:pw_range; /etc/pw.conf left alone")
    return _pw_conf(Root.of_host(host), cfg.host.pw_range, cfg.host.defaultpasswd, test, host=host)


def _accounts(root):
    """The parsed ``etc/master.passwd`` and ``etc/group`` below ``root``."""
    return prisoner_.parse_base_file(root, "etc/master.passwd", passwd.parse_master_passwd), prisoner_.parse_base_file(root, "etc/group", passwd.parse_group)


def audit_ids(host, cfg):
    """Step 7's check: UIDs/GIDs shared between the host and the prisoners, or outside their pw_range.

    Reads the host's and every present prisoner's master.passwd and group; changes nothing.  Owners are
    labelled ``host`` and by prisoner name.  A prisoner whose root or account files cannot be read is
    listed under ``skipped`` with the reason.  See :func:`salt_jail.core.formats.passwd.audit_ids` for the rules.
    """
    owners = {"host": (cfg.host.pw_range, *_accounts(Root.of_host(host)))}
    skipped = {}
    for prisoner in cfg.present:
        try:
            owners[prisoner.name] = (prisoner.pw_range, *_accounts(prisoner_.open_root(host, prisoner)))
        except JailprovError as err:
            skipped[prisoner.name] = str(err)
    report = passwd.audit_ids(owners)
    report["skipped"] = skipped
    return report
