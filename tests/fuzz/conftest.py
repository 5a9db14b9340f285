"""Hypothesis profiles of the fuzz targets.

"ci" (the default): at least 2,000 examples per target, no deadline (a
shared CI machine has slow moments; a hang is caught by pytest-timeout).
"long": ``make fuzz`` (HYPOTHESIS_PROFILE=long), for hunting.
Targets that need a database use ``examples(fraction)`` to run fewer.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture]
settings.register_profile("ci", max_examples=2000, deadline=None, print_blob=True,
                          suppress_health_check=_SLOW_OK)
settings.register_profile("long", max_examples=50_000, deadline=None, print_blob=True,
                          suppress_health_check=_SLOW_OK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
