"""Every fixture file, checked once: a file that does not load fails here, with the message that
names the file, table, key and value (``claims/fixture.py``), while the claims run on the other
fixtures. A file that loads passes, with its claims listed."""

import pytest


def test_fixture_file(fixture_file):
    if hasattr(fixture_file, "message"):  # claims.fixture.FixtureError
        pytest.fail(fixture_file.message, pytrace=False)
    assert fixture_file.claims, f"{fixture_file.path}: a fixture with no claims checks nothing"
