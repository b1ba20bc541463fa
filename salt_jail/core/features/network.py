"""Step ``network``: a VNET prisoner's own network configuration (:mod:`salt_jail.core.features.vnet`)."""

from . import lifecycle, prisoner as prisoner_, vnet


def network(host, cfg, name, test=False):
    """A VNET prisoner's ``etc/rc.conf`` holds its interface, address and default routes; when it runs, its
    live address and routes are changed to match (``jexec NAME ifconfig``/``route``).  Shared-IP: no change."""
    prisoner = prisoner_.present(cfg, name)
    if prisoner.network is None:
        return vnet.prisoner_network(host, cfg, name, None, test=test)
    root = prisoner_.open_root(host, prisoner)
    running = lifecycle.find_running(host, name) is not None
    return vnet.prisoner_network(host, cfg, name, root, test=test, running=running)
