"""Suite-wide hypothesis settings.

By default every run draws the same examples (``derandomize``), so CI never fails by chance, e.g. when a
finite difference happens to straddle a kink. ``HYPOTHESIS_PROFILE=explore pytest`` draws fresh examples:
run it now and then to look for new bugs.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
