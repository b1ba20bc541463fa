"""The loader-free core of salt_jail.

Nothing here imports Salt or reads ``__opts__``/``__salt__``/``__grains__``.  Functions take explicit
paths, a :class:`salt_jail.core.io.host.Host` (filesystem root + command runner) and plain data, and return
data.  The Salt modules in ``salt_jail.modules`` / ``salt_jail.states`` are thin wrappers around it.

Layout: ``registry`` (the one ordered list of prisoner steps), ``model/`` (the pillar; every key declared once in
``model/schema.py``), ``features/`` (one module per capability: read, plan, apply), ``formats/`` (FreeBSD's
files), ``tools/`` (FreeBSD's commands: argv and output parsers), ``io/`` (the runner, safe files, the query
memo), ``release/`` (fetch, cache, extract).  README.md, "Architecture: where things live", says more.
"""
