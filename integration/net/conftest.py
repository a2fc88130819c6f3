"""Fixtures of the ebpf.net integration tests: a veth pair between two fresh namespaces, leak checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from net._net_support import Counters, Pair, delete_pair, make_pair, netns_names

from ebpf import net


def _leftovers(pair: Pair) -> list[str]:
    found = []
    for ns, dev in ((pair.a, pair.va), (pair.b, pair.vb)):
        with net.in_netns(ns):
            state = net.query(dev)
        if not state.empty:
            found.append(f"{dev}: {state}")
    return found


@pytest.fixture
def pair() -> Iterator[Pair]:
    """Namespaces ``a`` and ``b`` joined by veth ``va``/``vb``; fails the test if anything stays attached."""
    p = make_pair()
    try:
        yield p
        leftovers = _leftovers(p)
        if leftovers:
            pytest.fail(f"left attached after the test: {'; '.join(leftovers)}", pytrace=False)
    finally:
        delete_pair(p)


@pytest.fixture
def counters() -> Iterator[Counters]:
    """A 4-slot u64 counter map."""
    c = Counters()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(autouse=True)
def _no_net_leaks() -> Iterator[None]:
    """Fail a test that leaves a test namespace behind or changes what is attached to the host's ``lo``."""
    namespaces = netns_names()
    lo = net.query("lo")
    yield
    left = sorted(netns_names() - namespaces)
    if left:
        pytest.fail(f"test left network namespaces behind: {left} (ip netns del ...)", pytrace=False)
    if net.query("lo") != lo:
        pytest.fail("test changed what is attached to the host's lo", pytrace=False)
