"""The programs: the ``esp-coord`` command line (``cli``: serve, check,
keygen, demo; ``cli_parse``, ``cli_plans``, ``cli_audit``: parse, plans,
audit) and the demo. They parse arguments, load the configuration and call
the composition root (``esp_coord.bootstrap``); the service never imports them.
"""
