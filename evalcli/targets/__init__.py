"""Targets: the application under test (HTTP endpoint, chat deployment, Python callable).

A target is called once per row, before (and pipelined with) the evaluators that read its
outputs through ``${target.<field>}``. :func:`build_target` validates a ``target:`` section and
returns a :class:`~evalcli.targets.base.Target`.
"""

from evalcli.targets.base import Target, build_target

__all__ = ["Target", "build_target"]
