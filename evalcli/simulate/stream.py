"""A seeded stream of random choices that gives the same answers on every Python version.

``random.Random`` is reproducible for a given CPython, but the algorithms behind ``choice``,
``sample`` and ``shuffle`` are not a documented contract across versions. Simulated datasets
must be byte-identical for the same input, seed and templates wherever they are generated,
so every random decision of ``evalcli simulate`` comes from SHA-256 in counter mode instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

_SEP = "\x1f"  # unit separator: cannot be confused with text inside a key part


class Stream:
    """Deterministic random numbers derived from a key (the seed plus what is being made).

    Args:
        *key: Parts of the key, e.g. ``(seed, pair_id, technique, variant)``; two streams
            with the same parts give the same numbers.
    """

    def __init__(self, *key: object) -> None:
        self._key = _SEP.join(str(k) for k in key).encode("utf-8", "surrogatepass")
        self._counter = 0

    def _block(self) -> int:
        digest = hashlib.sha256(self._key + b"\x00" + str(self._counter).encode()).digest()
        self._counter += 1
        return int.from_bytes(digest, "big")

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)`` (rejection sampling, so no modulo bias)."""
        if n < 1:
            raise ValueError("n must be positive")
        limit = (1 << 256) - (1 << 256) % n
        while True:
            value = self._block()
            if value < limit:
                return value % n

    def chance(self, numerator: int, denominator: int) -> bool:
        """True with probability ``numerator / denominator``."""
        return self.below(denominator) < numerator

    def choice(self, items: Sequence[T]) -> T:
        """One item, uniformly."""
        return items[self.below(len(items))]

    def permutation(self, n: int) -> list[int]:
        """A uniform permutation of ``range(n)`` (Fisher-Yates)."""
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            order[i], order[j] = order[j], order[i]
        return order

    def hex(self, digits: int) -> str:
        """``digits`` lowercase hexadecimal characters."""
        return f"{self._block():064x}"[:digits]
