"""Locks shared by the lazy loaders of this package, made safe across ``fork``.

The runner scores rows from threads and from forked worker processes. A plain
lock that happens to be held by another thread at the moment of ``fork`` stays
locked forever in the child, so every lock created here is acquired around
``fork`` and released on both sides: the child always starts with free locks
and never observes a half-built resource.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

_LOCKS: list[threading.Lock] = []
_CHILD_HOOKS: list[Callable[[], None]] = []


def new_lock() -> threading.Lock:
    """Return a lock that is held across ``fork`` so children inherit it free.

    Returns:
        A new ``threading.Lock`` registered with the fork handlers.
    """
    lock = threading.Lock()
    _LOCKS.append(lock)
    return lock


def after_fork_in_child(hook: Callable[[], None]) -> None:
    """Register ``hook`` to run in a forked child once every lock is free again.

    Args:
        hook: Called without arguments; it must not raise.
    """
    _CHILD_HOOKS.append(hook)


def _before_fork() -> None:
    # A fixed acquisition order (creation order) keeps two forking threads
    # from deadlocking each other.
    for lock in _LOCKS:
        lock.acquire()


def _after_fork_in_parent() -> None:
    for lock in reversed(_LOCKS):
        lock.release()


def _after_fork_in_child() -> None:
    for lock in reversed(_LOCKS):
        lock.release()
    for hook in _CHILD_HOOKS:
        hook()


if hasattr(os, "register_at_fork"):  # POSIX only; Windows has no fork
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
