"""Suite-wide hypothesis settings, and the ``x64`` fixture (float64 for one test).

By default every run draws the same examples (``derandomize``), so CI never fails by chance, e.g. when a
finite difference happens to straddle a kink. ``HYPOTHESIS_PROFILE=explore pytest`` draws fresh examples:
run it now and then to look for new bugs.
"""

import os

import pytest
from hypothesis import settings
from strategies import x64 as enable_x64

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def x64():
    """``enable_x64`` for the test; the previous value is restored afterwards."""
    with enable_x64():
        yield
