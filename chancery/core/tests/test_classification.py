"""The clearance-dominance rule, checked over every marking of a small but complete lattice.

Four levels and every subset of three compartments give 32 markings, hence 1,024 ordered
pairs and 32,768 triples: exhaustive, where a property-based test would sample.
"""

from __future__ import annotations

from itertools import combinations, product

import pytest

from chancery.core.classification import LEVEL_KEYS, Level, Marking, at_least, dominates

COMPARTMENTS = ("CRYPTO", "NATO", "PERSONNEL")
SUBSETS = [frozenset(c) for n in range(len(COMPARTMENTS) + 1) for c in combinations(COMPARTMENTS, n)]
MARKINGS = [Marking(int(level), subset) for level in Level for subset in SUBSETS]


def test_the_lattice_is_complete():
    assert len(MARKINGS) == 32 and len(set(MARKINGS)) == 32


def test_dominance_is_level_at_least_and_compartments_superset():
    for clearance, marking in product(MARKINGS, repeat=2):
        expected = clearance.level >= marking.level and marking.compartments <= clearance.compartments
        assert clearance.dominates(marking) is expected, (clearance, marking)
        assert dominates(clearance, marking) is expected
        assert at_least(clearance, marking) is expected


def test_dominance_is_a_partial_order():
    for a in MARKINGS:
        assert a.dominates(a)  # reflexive
    for a, b in product(MARKINGS, repeat=2):
        if a.dominates(b) and b.dominates(a):
            assert a == b  # antisymmetric
    for a, b, c in product(MARKINGS, repeat=3):
        if a.dominates(b) and b.dominates(c):
            assert a.dominates(c)  # transitive


def test_no_read_up_in_level_or_in_compartments():
    for a, b in product(MARKINGS, repeat=2):
        if b.level > a.level or not b.compartments <= a.compartments:
            assert not a.dominates(b)


def test_raising_a_clearance_never_loses_access():
    for clearance, marking in product(MARKINGS, repeat=2):
        if not clearance.dominates(marking):
            continue
        for higher in MARKINGS:
            if higher.level >= clearance.level and higher.compartments >= clearance.compartments:
                assert higher.dominates(marking)


def test_the_top_and_bottom_of_the_lattice():
    top = Marking(Level.SECRET, frozenset(COMPARTMENTS))
    bottom = Marking(Level.UNCLASSIFIED)
    assert all(top.dominates(m) for m in MARKINGS)
    assert all(m.dominates(bottom) for m in MARKINGS)


def test_levels_keys_labels_and_protection():
    assert LEVEL_KEYS == ["unclassified", "restricted", "confidential", "secret"]
    assert [int(Level.from_key(key)) for key in LEVEL_KEYS] == [0, 1, 2, 3]
    assert Level.from_key("SECRET") == Level.SECRET
    with pytest.raises(ValueError, match="unknown classification"):
        Level.from_key("top-secret")
    assert not Marking.of(0).is_protected and Marking.of(1).is_protected
    assert Marking.of(2, ["NATO", "CRYPTO"]).label() == "Confidentiel — CRYPTO / NATO"
    assert Marking.of(2, ["NATO"]) == Marking(2, frozenset({"NATO"}))
