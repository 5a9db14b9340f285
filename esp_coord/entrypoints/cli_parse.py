"""``esp-coord parse --config FILE MAIL.eml``: what the service understands of a mail.

Prints one JSON object (see ``esp_coord.interpret``) and exits 0 when the
service would act on the mail, 1 when it would answer with errors, 3 when it
would not process it at all (automatic mail, unknown sender), 2 when the
configuration or the file cannot be read. Nothing is sent, no database is opened.

Given an ``IHE_XDM.ZIP`` archive instead of a mail, it prints what the
service understands of the archive (``interpret.document_report``): 0 when
the patient is established, 1 with the ANS code it would be refused with.
The JSON holds the patient's traits (the operator asked for them); nothing
is logged.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from esp_coord.config import ConfigError
from esp_coord.interpret import HAS_ERRORS, VALID, document_report, exit_code, interpret
from esp_coord.offline_config import load_offline_config

_EPILOG = ("Exit status: 0 understood, the service would act on it; 1 the service would "
           "answer with the errors listed; 3 ignored (automatic mail, sender off the roster "
           "or the trusted domains); 2 configuration or file unreadable.")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("parse", help="print what the service understands of a mail (JSON)",
                              description=__doc__, epilog=_EPILOG)
    p.add_argument("--config", required=True)
    p.add_argument("mail", help="a raw RFC 5322 message (.eml), or an IHE_XDM.ZIP archive; "
                                "'-' reads standard input")
    p.add_argument("--compact", action="store_true", help="one line of JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_offline_config(args.config)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    try:
        if args.mail == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(args.mail, "rb") as f:
                raw = f.read()
    except OSError as e:
        print(f"{args.mail}: cannot be read ({e.strerror or type(e).__name__})", file=sys.stderr)
        return 2
    indent = None if args.compact else 2
    if raw.startswith(b"PK\x03\x04"):
        document = document_report(raw, config)
        print(json.dumps(document, ensure_ascii=False, indent=indent))
        return HAS_ERRORS if document["error_code"] is not None else VALID
    report = interpret(raw, config)
    print(json.dumps(report, ensure_ascii=False, indent=indent))
    return exit_code(report)
