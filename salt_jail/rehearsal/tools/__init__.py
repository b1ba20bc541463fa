"""The stand-ins, one module per FreeBSD tool; each exposes ``main(ctx, argv) -> exit status``.

Each follows its tool's FreeBSD 14.2 source for options, messages, output formats and exit statuses
(the module docstrings cite what they follow and list what is not simulated).
"""
