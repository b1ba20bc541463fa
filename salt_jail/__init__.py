"""salt_jail: provision FreeBSD jails from Salt pillar.

Salt finds the ``modules``, ``states`` and ``runners`` sub-packages through the ``salt.loader`` entry point
declared in setup.cfg, so a ``pip install`` is enough: no ``saltutil.sync_*``.
"""

__version__ = "0.1.0"
