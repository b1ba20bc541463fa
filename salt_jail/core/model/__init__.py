"""The ``jailprov`` pillar as typed, validated objects.

:func:`parse` turns the pillar subtree into a :class:`Config`, merging ``defaults`` into every prisoner
and reporting every problem at once (:class:`~salt_jail.core.errors.ValidationError`), each message
naming the full key path, what is wrong and what is expected.  Nothing downstream re-validates.

Where things are:

* :mod:`.schema` — every pillar key, declared once (parser, default, uniqueness, documentation); the
  dataclasses below, the key lists and the README's pillar reference table are derived from it;
* :mod:`.values` — the value types (paths, addresses, crypt hashes, jail parameters...) and their messages;
* :mod:`.network` and :mod:`.zfs` — the pillar side of the VNET and ZFS features (their plan/apply is in
  :mod:`salt_jail.core.features`).

The model is loader-free (no Salt) and imports no feature.
"""

from ..errors import ValidationError
from .network import Network  # noqa: F401
from .schema import SCHEMA
from .values import (  # noqa: F401  (the model's constants, for the features and tests)
    ARCHES, ARCHIVE_MIRROR, BELOW_ROOT, CRYPT_FORMATS, DEFAULT_MIRROR, DEFAULT_MIRRORS, DEFAULTPASSWD,
    IFNAME_MAX, JAIL_MAX, LAYOUTS, MIRROR_SCHEMES, NAME_MAX, PARAM_NAME_MAX, PASSWORD_MAX, PATH_MAX, PILLAR_KEY,
    PRISONER_TYPES, RC_CONF_FILES, RELEASE_MAX, RELEASES_DIR, SNAPSHOT_MIRROR, SYSTEM_DIRS, TIMEZONE_MAX,
    IdRange, PwRange, normalise_path, release_kind,
)
from .zfs import ZfsConfig  # noqa: F401

#: The dataclasses, derived from the schema's declarations.
Config = SCHEMA.Config
HostConfig = SCHEMA.HostConfig
Prisoner = SCHEMA.Prisoner

TOP_KEYS = SCHEMA.TOP_KEYS
HOST_KEYS = SCHEMA.HOST_KEYS
PRISONER_KEYS = SCHEMA.PRISONER_KEYS
UNIQUE_KEYS = SCHEMA.UNIQUE_KEYS
DEFAULT_KEYS = SCHEMA.DEFAULT_KEYS
#: jail.conf parameters the model writes itself; pillar ``params`` must not set them.
MANAGED_PARAMS = SCHEMA.MANAGED_PARAMS


def parse(data):
    """Parse and validate the ``jailprov`` pillar subtree; returns :class:`Config` or raises ValidationError.

    Every problem in the pillar is reported at once, each naming its full key path.
    """
    return SCHEMA.parse(data)


def absent_prisoner(name, path):
    """The placeholder :class:`Prisoner` of a prisoner known only by its name (to destroy)."""
    return SCHEMA.absent_prisoner(name, path)


def validate(data):
    """Return the list of validation errors for a ``jailprov`` subtree (empty when it is valid)."""
    try:
        parse(data)
    except ValidationError as exc:
        return exc.errors
    return []


def from_pillar(pillar):
    """Parse the ``jailprov`` key of a whole pillar dict."""
    if not isinstance(pillar, dict) or PILLAR_KEY not in pillar:
        raise ValidationError([f"{PILLAR_KEY}: missing from the pillar (expected a '{PILLAR_KEY}:' mapping; "
                               "see pillar.example)"])
    return parse(pillar[PILLAR_KEY])
