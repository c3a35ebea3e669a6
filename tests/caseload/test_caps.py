"""The cap rule at its edges (loads in hundredths, caps in whole patients)."""

from backend.caseload.caps import crossed, fits, utilisation


def test_reaching_the_cap_exactly_fits_and_one_more_does_not():
    assert fits(load=2400, weight=100, cap=25)
    assert not fits(load=2450, weight=100, cap=25)
    assert fits(load=0, weight=0, cap=0) and not fits(load=0, weight=50, cap=0)


def test_only_the_change_that_takes_a_caseload_over_its_cap_crosses_it():
    assert crossed(load_before=2450, added=100, cap=25)
    assert not crossed(load_before=2400, added=100, cap=25)  # lands exactly on the cap
    assert not crossed(load_before=2600, added=100, cap=25)  # was over already: no second alert


def test_utilisation_is_load_over_cap():
    assert utilisation(1250, 25) == 0.5 and utilisation(100, 0) == 0.0
