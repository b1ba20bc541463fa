"""The pillar's UID/GID range check: the n log n test for disjoint ranges agrees with the pairwise one."""

import random

from salt_jail.core.model.schema import _disjoint
from salt_jail.core.model.values import IdRange


def test_disjoint_agrees_with_every_pair_compared():
    rnd = random.Random(14)
    for _ in range(2000):
        ranges = [IdRange(lo, lo + rnd.randint(0, 20)) for lo in (rnd.randint(1, 200) for _ in range(rnd.randint(0, 8)))]
        pairwise = not any(a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[:i])
        assert _disjoint(ranges) is pairwise, ranges


def test_touching_and_nested_ranges_overlap():
    assert not _disjoint([IdRange(10, 20), IdRange(20, 30)])
    assert not _disjoint([IdRange(10, 100), IdRange(50, 60), IdRange(200, 300)])
    assert _disjoint([IdRange(10, 19), IdRange(20, 30), IdRange(31, 31)])
