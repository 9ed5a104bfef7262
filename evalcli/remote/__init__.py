"""The remote-call layer: every judge, target and Content Safety call goes through here.

* :mod:`~evalcli.remote.endpoint` - :class:`Endpoint`: fatal latch, call cache, concurrency
  limit, retries, statistics and error classification around one transport.
* :mod:`~evalcli.remote.policy` - what is retried, how long to wait, when to give up.
* :mod:`~evalcli.remote.health` - when an endpoint's failures stop the run (exit 3).
* :mod:`~evalcli.remote.failures` - transport-neutral errors and the :class:`Classifier`
  that turns them into row errors and run-stopping errors.
* :mod:`~evalcli.remote.stats` - call, retry, cache-hit and token counters.
* :mod:`~evalcli.remote.transport` - the transport interface and a fake for tests;
  :mod:`~evalcli.remote.openai_chat` and :mod:`~evalcli.remote.http` - the default
  transports (the ``openai`` client; httpx2).
* :mod:`~evalcli.remote.auth` - key headers and Microsoft Entra ID tokens.

The clients keep only what is theirs: :mod:`evalcli.judge.client` (chat messages, cache key,
transcripts), :mod:`evalcli.targets.http` (request template, output paths) and
:mod:`evalcli.safety.client` (Content Safety operations and their errors).
"""

from evalcli.remote.endpoint import Endpoint, Payload, Result
from evalcli.remote.failures import (
    Classifier,
    Report,
    StatusError,
    TokenUnavailableError,
    TransportConnectionError,
    TransportError,
    TransportTimeoutError,
)
from evalcli.remote.health import FIRST_CALLS_FATAL, EndpointHealth
from evalcli.remote.policy import GiveUpError, RetryPolicy, Verdict
from evalcli.remote.stats import CallStats
from evalcli.remote.transport import (
    ChatAnswer,
    ChatRequest,
    ChatTransport,
    FakeTransport,
    HttpRequest,
    HttpResponse,
    HttpTransport,
    Transport,
)

__all__ = [
    "FIRST_CALLS_FATAL",
    "CallStats",
    "ChatAnswer",
    "ChatRequest",
    "ChatTransport",
    "Classifier",
    "Endpoint",
    "EndpointHealth",
    "FakeTransport",
    "GiveUpError",
    "HttpRequest",
    "HttpResponse",
    "HttpTransport",
    "Payload",
    "Report",
    "Result",
    "RetryPolicy",
    "StatusError",
    "TokenUnavailableError",
    "Transport",
    "TransportConnectionError",
    "TransportError",
    "TransportTimeoutError",
    "Verdict",
]
