"""``salt-jail``: what an administrator needs to wire an installed salt_jail into Salt.

    salt-jail formula-path        # the directory for file_roots (it holds jail/init.sls)
    salt-jail pillar-example      # prints the commented example pillar (redirect it to /srv/pillar/...)
    salt-jail version

Also ``python -m salt_jail ...``.  The rehearsal has its own command: ``salt-jail-rehearse``.
"""

import argparse
import sys

from salt_jail import __version__, resources


def main(argv=None):
    parser = argparse.ArgumentParser(prog="salt-jail", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("formula-path", help="print the formula directory to add to the master's file_roots")
    sub.add_parser("pillar-example", help="print pillar.example (the tutorial's prisoners, every key commented)")
    sub.add_parser("version", help="print salt_jail's version")
    args = parser.parse_args(argv)
    try:
        if args.command == "formula-path":
            print(resources.formula_dir())
        elif args.command == "pillar-example":
            sys.stdout.write(resources.pillar_example().read_text(encoding="utf-8"))
        else:
            print(__version__)
    except resources.NotShippedError as exc:
        print(f"salt-jail: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
