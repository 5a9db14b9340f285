"""Helpers shared by the tests (and the benchmarks): import them from here,
never from another test module. Fixtures live in the conftest files.

- ``paths``: the repository, the example files and the example configuration;
- ``config``: the example team's ``Config`` for tests that reach no server;
- ``mail``: raw test mails and the example team's addresses;
- ``imap``: an independent IMAP client (stdlib imaplib) that inspects a server;
- ``mutf7``: the decoder of IMAP mailbox names the inspection needs;
- ``intake``: the properties every parsed mail has, and mutations of mails;
- ``crashing``: adapters that crash the service at a chosen step;
- ``plans_examples``: the example roster and plans as domain objects;
- ``store``: the store fixtures (SQLite always, PostgreSQL where it answers),
  registered by ``tests/integration/conftest.py``.
"""
