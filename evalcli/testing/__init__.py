"""Test utilities shipped with evalcli.

The main piece is a loopback stub server (:mod:`evalcli.testing.stub_server`) that speaks the
OpenAI / Azure OpenAI chat, Azure ML online endpoint and Azure AI Content Safety wire protocols
on 127.0.0.1, for tests, benchmarks and offline demos. It uses the standard library only.

Nothing is imported here on purpose: ``python -m evalcli.testing.stub_server`` must not find
the module already imported by its package (runpy warns about that).
"""
