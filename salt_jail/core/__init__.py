"""The loader-free core of salt_jail.

Nothing here imports Salt or reads ``__opts__``/``__salt__``/``__grains__``.  Functions take explicit
paths, a :class:`salt_jail.core.io.host.Host` (filesystem root + command runner) and plain data, and return
data.  The Salt modules in ``salt_jail.modules`` / ``salt_jail.states`` are thin wrappers around it.
"""
