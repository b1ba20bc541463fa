"""Pillar helpers shared by the model, tools and features tests."""

import pytest

from salt_jail.core import model
from salt_jail.core.errors import ValidationError


def errors_for(pillar):
    """The error messages ``model.from_pillar`` raises for ``pillar`` (fails the test when it accepts it)."""
    with pytest.raises(ValidationError) as info:
        model.from_pillar(pillar)
    return info.value.errors
