"""``python -m evalcli.testing``: run the loopback stub server (same as ``...stub_server``)."""

from evalcli.testing.stub_server import main

raise SystemExit(main())
