"""The statistical-test assistant: profile a DataFrame and suggest the test a statistician would pick.

- :func:`profile` -- the level of measurement of each column, with the reason;
- :func:`suggest` -- ranked suggestions for a design (outcome, factors, subject...),
  each with its assumption checks, effect size, warnings, and ``template`` +
  ``inputs`` that insert a runnable cell from the built-in ``stat-*`` templates.

Pure library: needs numpy, pandas and scipy (the ``stats`` extra), never tornado,
jupyter_server or datadive_ext. The decision policy is ../shared/STATS.md.
"""

from .common import LEVELS, SAMPLE_PER_GROUP, SEED, VOCABULARY, AssistantError, template_id
from .profile import profile
from .suggest import TITLES, suggest

__all__ = ["profile", "suggest", "AssistantError", "LEVELS", "VOCABULARY", "TITLES", "SAMPLE_PER_GROUP", "SEED", "template_id"]
