"""What a family of tests hands back: a :class:`Finding` (suggestions, design facts, notes).

Family functions share no mutable state: each reads the frozen
:class:`~cell_templates.assistant.design.Design`, draws its samples from a
:class:`Sampler` of its own, and returns a :class:`Finding`. A function that
hands the case on to another family (a stratified table that needs a logistic
regression, say) returns the other family's finding preceded by its own notes
and facts (:meth:`Finding.after`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from . import checks as ck
from .common import SAMPLE_PER_GROUP, SEED, plain

#: Regressions and ANCOVA fit on at most this many rows (a seeded sample).
MODEL_ROWS = 20000


@dataclass(frozen=True)
class Notes:
    """Warnings for every suggestion, in order; an assumption is also a warning (``Assumed: ...``)."""

    warnings: tuple = ()
    assumed: tuple = ()

    def warn(self, text: str) -> Notes:
        return Notes(self.warnings + (text,), self.assumed)

    def assume(self, text: str) -> Notes:
        return Notes(self.warnings + ("Assumed: " + text,), self.assumed + (text,))

    def __add__(self, other: Notes) -> Notes:
        return Notes(self.warnings + other.warnings, self.assumed + other.assumed)


NO_NOTES = Notes()


@dataclass(frozen=True)
class Finding:
    """Ranked suggestions (the first is the recommendation), facts for the result's ``design``
    (``layout``, ``groups``, ``success``...), run-level notes, and whether a check ran on a sample."""

    suggestions: tuple
    facts: Mapping = field(default_factory=lambda: MappingProxyType({}))
    notes: Notes = NO_NOTES
    sampled: bool = False

    def after(self, notes: Notes = NO_NOTES, **facts) -> Finding:
        """This finding, preceded by what the calling family noted and found first."""
        return Finding(self.suggestions, MappingProxyType({**facts, **self.facts}), notes + self.notes, self.sampled)


def found(suggestions, notes: Notes = NO_NOTES, sampler: Sampler | None = None, **facts) -> Finding:
    """A finding of ``suggestions`` (empty ones left out)."""
    return Finding(tuple(s for s in suggestions if s), MappingProxyType(facts), notes,
                   bool(sampler is not None and sampler.sampled))


class Sampler:
    """The seeded generator of one family's checks, and whether anything was sampled.

    Each family function makes its own: the same data always give the same samples.
    """

    def __init__(self):
        self.gen = np.random.default_rng(SEED)
        self.sampled = False

    def sample(self, values: np.ndarray, size: int = SAMPLE_PER_GROUP) -> np.ndarray:
        """At most ``size`` of ``values`` (a seeded sample, order kept)."""
        if values.shape[0] > size:
            self.sampled = True
        return ck.sample(values, size, self.gen)

    def rows(self, n: int, size: int = MODEL_ROWS):
        """Sorted indexes of a seeded sample of ``size`` of ``n`` rows, or None when ``n <= size``."""
        if n <= size:
            return None
        self.sampled = True
        return np.sort(self.gen.choice(n, size, replace=False))


def cell_inputs(**kw) -> dict:
    """The ``inputs`` of a suggested cell: ``df`` plus the given values as JSON (None left out)."""
    out = {"df": "df"}
    for k, v in kw.items():
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            out[k] = [plain(x) for x in v]
        elif isinstance(v, dict):
            out[k] = v
        else:
            out[k] = plain(v)
    return out
