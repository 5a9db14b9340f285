"""Hostile mail for the fuzz targets: broken MIME, every charset, huge lines,
deep nesting, header soup, and plan bodies with keys and values mixed up.

Generation is plain Python driven by one seed that Hypothesis draws: a
structured Hypothesis strategy of this shape costs about 10 ms an example,
this costs well under one, so the CI profile's 2,000 examples per target stay
cheap. A failure is replayed from the seed Hypothesis reports.
"""

from __future__ import annotations

import base64
import binascii
import encodings.aliases
import quopri
import random

from hypothesis import strategies as st

from plans.lines import KEYS

# Every codec name Python knows (byte-to-byte codecs such as base64 and zlib
# among them: a charset label must never reach those), and unknown names.
CHARSETS = sorted(set(encodings.aliases.aliases.values()) | set(encodings.aliases.aliases)) + [
    "utf-8", "UTF-8", "utf8", "unknown-8bit", "x-unknown", "iso-2022-jp", "gb18030", "utf-7",
    "utf-16", "utf-32", "rot13", "base64", "zlib", "bz2", "hex", "idna", "punycode", "uu",
    "", '"', "utf-8\x00", "x" * 200, "ascii; format=flowed", "windows-1252", "cp1252",
]
MEMBERS = [
    "claire.durand@medecin.mssante.test", "paul.girard@medecin.mssante.test",
    "julien.marie@infirmier.mssante.test", "ana.costa@esp-valdelorge.mssante.test",
]
HOSTILE_ADDRESSES = [
    "claire.durand@medecin.mssante.test.evil.test", "x.mssante.fr.evil.test",
    "claire.durand@medecin.mssante.test\r\nBcc: evil@evil.test", "<>", "", "@", "a@b@c",
    '"claire.durand@medecin.mssante.test" <attacker@evil.test>',
    "=?utf-8?q?claire.durand=40medecin.mssante.test?= <attacker@evil.test>",
    "Claire DURAND <claire.durand@medecin.mssante.test>, b@evil.test",
]
CONTENT_TYPES = ["text/plain", "text/html", "text/calendar", "application/pdf",
                 "application/zip", "message/rfc822", "message/delivery-status",
                 "application/octet-stream", "image/png", "x/y", "text", "/", "",
                 "multipart/mixed", "text/plain/extra"]
ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "",
             "BASE64", "quoted-printable; junk", "gzip"]
SUBTYPES = ["mixed", "alternative", "related", "signed", "report", "digest", "x-unknown"]
BOUNDARIES = ["b", "=_b", "", "b b", "--", "x" * 80, 'b"q', "same"]
COMMAND_WORDS = ["NOUVEAU PPS", "MAJ", "MAJ PPS-2026-0001", "CLORE PPS-2026-0001", "STATUT",
                 "STATUT PPS-2026-0001", "LISTE", "FAIT 1", "FAIT", "REPORTER 1 au 15/12/2026",
                 "AIDE", "RCP NOUVELLE", "RCP", "ANNULER RCP-2026-001", "CR RCP-2026-001",
                 "RE: [PPS-2026-0001] Plan créé", "TR: Fwd: AW: statut", "?", ""]
# Keys of RCP NOUVELLE bodies, mixed with the plan keys.
MEETING_KEYS = ["Date", "Durée", "Lieu", "Visio", "Participants", "Invités", "Récurrence",
                "Rythme", "Patients", "Ordre du jour", "Titre", "Quand", "Heure"]
MEETING_VALUES = ["03/12/2026 à 12h30", "jeudi 12h", "demain 14h", "hier", "31/02/2027 à 25h",
                  "1h30", "90 min", "-1 h", "tous les mardis", "chaque mois", "le premier lundi",
                  "tous les 0 jours", "tous", "Dr DURAND, IDE MARIE", "toute l'équipe",
                  "PPS-2026-0001, PPS-2026-0002", "https://visio.test/x", "salle 1"]
KEY_WORDS = sorted(KEYS) + MEETING_KEYS + [
    "Patient", "INS", "Action", "- Action", "• Équipe", "PATIENT", "Né(e) le", "Protocole",
    "http"]
VALUES = [
    "MARTIN Jeanne", "Jeanne", "12/03/1948", "31/02/1937", "25 juin 1941", "hier", "F", "M",
    "X", "2 48 03 75 056 118 78", "248037505611878", "1 37 11 69 123 045 99", "2A0000", "oui",
    "non", "OUI !", "Dr DURAND", "IDE Julien MARIE, pharmacien LEROY, kiné BENALI",
    "IDE | surveillance | chaque semaine", "kiné | marche | 2 fois par semaine pendant 3 mois",
    "Dr DURAND | consultation | tous les 3 mois", "| | |", "a|b|c|d|e",
    "pharmacien | bilan | 15/12/2026", "diabete-type-2", "avk-inr", "inconnu",
    "15/05/2027", "dans 6 mois", "la semaine des quatre jeudis", "<script>alert(1)</script>",
    "=?utf-8?q?x?=", "\u202e\u0645", "A\u0308", "\ufeff", "x" * 300, "99/99/9999",
    "00/00/0000", "-1", "1e308", "∞", "PPS-2026-0001", "03/12/2026 à 12h30", "tous les mardis",
]
SEPARATORS = [" : ", ":", "\u00a0: ", " :: ", " = ", " - ", "\t:\t", " ： ", ""]
EXTRA_LINES = ["", "Bonjour,", "-- ", "> cité", "Cordialement", "suite de la ligne", "Dr X",
               "Le 23/11/2026 à 09:13, X a écrit :", "________________", "Envoyé de mon iPhone"]
HEADER_BITS = ["\r\n", "\n", "\r", " ", "\x00", "\r\n\t", "\r\nBcc: evil@evil.test", ";", '"',
               "<", ">", "=?", "?=", "\\", "(", ")", "<PPS-2026-0001.ack.1@x>"]
OTHER_HEADERS = ["In-Reply-To", "References", "Date", "Return-Path", "Auto-Submitted",
                 "Precedence", "Content-Disposition", "X-Junk", "From", "Subject",
                 "Content-Type", "Content-Transfer-Encoding", "MIME-Version", "Sender"]
HEADER_VALUES = ["<PPS-2026-0001.ack.1@esp-valdelorge.mssante.test>",
                 "Mon, 23 Nov 2026 09:12:44 +0100", "Mon, 99 Foo 99999", "auto-replied", "bulk",
                 "<>", 'attachment; filename="../../etc/passwd"', "no", "1.0"]
# Characters from many scripts, controls, marks, bidi overrides, surrogate-free.
ALPHABET = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:|-_/()<>\"'=?&#"
            "éèêàçùôîÉÈÀÇœŒ«»\u00a0\u202f\u2019\u2013\u2014€"
            "αβγДЖЯשלוםمرحبا你好日本語한국어ไทย\u0301\u0308\u200b\u200d\u202e\ufeff\ufffd"
            "\t\r\n\x00\x01\x1b\x7f\x85\u2028\u2029\U0001f600\U00010348")


def text(rng: random.Random, max_size: int = 80) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(max_size + 1)))


def encoded_word(rng: random.Random) -> str:
    charset = rng.choice(CHARSETS)
    kind = rng.choice("BQbqX")
    payload = text(rng, 30).encode("utf-8", "replace")
    if kind in "Bb":
        body = base64.b64encode(payload).decode()
        body = body[: rng.randrange(len(body) + 1)]
    else:
        body = quopri.encodestring(payload, header=True).decode("ascii", "replace")
    return f"=?{charset}?{kind}?{body}?="


def header_value(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randrange(7)):
        roll = rng.randrange(3)
        pieces.append(text(rng, 40) if roll == 0 else encoded_word(rng) if roll == 1
                      else rng.choice(HEADER_BITS))
    return "".join(pieces)


def headers(rng: random.Random, sender: str | None = None) -> list[tuple[str, str]]:
    if sender is None:
        sender = rng.choice(MEMBERS + HOSTILE_ADDRESSES + [header_value(rng)])
    out = [("From", sender), ("To", "coordination@esp-valdelorge.mssante.test")]
    if rng.random() < 0.8:
        out.append(("Subject", rng.choice(COMMAND_WORDS) if rng.random() < 0.6
                    else header_value(rng)))
    if rng.random() < 0.7:
        out.append(("Message-ID", f"<fuzz-{rng.randrange(10**9)}@medecin.mssante.test>"
                    if rng.random() < 0.8 else header_value(rng)))
    for _ in range(rng.randrange(5)):
        out.append((rng.choice(OTHER_HEADERS), rng.choice(HEADER_VALUES) if rng.random() < 0.5
                    else header_value(rng)))
    return out


def plan_body(rng: random.Random) -> str:
    """Lines of a plan mail with keys, separators and values mixed up."""
    lines = []
    for _ in range(rng.randrange(15)):
        key = rng.choice(KEY_WORDS) if rng.random() < 0.85 else text(rng, 15)
        roll = rng.random()
        value = (rng.choice(VALUES) if roll < 0.5 else rng.choice(MEETING_VALUES) if roll < 0.7
                 else text(rng, 60))
        lines.append(key + rng.choice(SEPARATORS) + value)
        if rng.random() < 0.15:
            lines.append(rng.choice(EXTRA_LINES))
    return "\n".join(lines)


def _encode(body: str, charset: str, cte: str) -> bytes:
    try:
        data = body.encode(charset)
    except (LookupError, UnicodeError, TypeError, ValueError):
        data = body.encode("utf-8", "surrogatepass")
    if not isinstance(data, bytes):  # a codec that does not give bytes
        data = body.encode("utf-8", "surrogatepass")
    if cte.lower().startswith("base64"):
        return base64.encodebytes(data)
    if cte.startswith("quoted"):
        return binascii.b2a_qp(data)
    return data


def leaf(rng: random.Random) -> bytes:
    ctype, charset, cte = rng.choice(CONTENT_TYPES), rng.choice(CHARSETS), rng.choice(ENCODINGS)
    body = plan_body(rng) if rng.random() < 0.5 else text(rng, 200)
    params = f"; charset={charset}" if rng.random() < 0.7 else ""
    if rng.random() < 0.1:
        params += '; name="' + text(rng, 20) + '"'
    if rng.random() < 0.1:
        params += "; format=flowed; delsp=yes"
    head = f"Content-Type: {ctype}{params}\r\nContent-Transfer-Encoding: {cte}\r\n"
    payload = _encode(body, charset, cte)
    if rng.random() < 0.12:
        payload = payload[: rng.randrange(len(payload) + 1)]  # cut anywhere
    return head.encode("utf-8", "surrogatepass") + b"\r\n" + payload


def mime(rng: random.Random, depth: int = 0) -> bytes:
    if depth >= 4 or rng.random() < 0.5:
        return leaf(rng)
    boundary = rng.choice(BOUNDARIES).encode()
    out = (b"Content-Type: multipart/" + rng.choice(SUBTYPES).encode() + b'; boundary="'
           + boundary + b'"\r\n\r\n' + rng.choice([b"", b"preamble\r\n"]))
    for _ in range(rng.randrange(5)):
        out += b"--" + boundary + b"\r\n" + mime(rng, depth + 1) + b"\r\n"
    if rng.random() < 0.8:
        out += b"--" + boundary + b"--\r\n"
    return out + rng.choice([b"", b"epilogue"])


def deep_nesting(rng: random.Random) -> bytes:
    part = b"Content-Type: text/plain\r\n\r\nAIDE\r\n"
    for level in range(rng.randrange(120)):
        if rng.random() < 0.1:
            part = b"Content-Type: message/rfc822\r\n\r\n" + part
            continue
        boundary = b"d%d" % level if rng.random() < 0.85 else b"same"
        part = (b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--'
                + boundary + b"\r\n" + part + b"\r\n--" + boundary + b"--\r\n")
    return part


def hostile_mail(rng: random.Random, sender: str | None = None) -> bytes:
    """A whole raw mail: header soup, then one of the body shapes."""
    head = b"".join(f"{n}: {v}\r\n".encode("utf-8", "surrogatepass")
                    for n, v in headers(rng, sender))
    shape = rng.randrange(20)
    if shape < 12:
        body = mime(rng)
    elif shape < 15:
        body = deep_nesting(rng)
    elif shape < 17:
        # A huge line, in the subject's command or in the body.
        size = rng.choice([2_000, 70_000, 300_000])
        body = b"Content-Type: text/plain\r\n\r\nAIDE " + b"a" * size + b"\r\n"
    elif shape < 19:
        body = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + plan_body(rng).encode(
            "utf-8", "surrogatepass")
    else:
        body = b"\r\n" + rng.randbytes(rng.randrange(500))
    return head + b"MIME-Version: 1.0\r\n" + body


def seeded(build, **kwargs):  # type: ignore[no-untyped-def]
    """A strategy of ``build(rng, **kwargs)`` from one drawn seed."""
    return st.integers(0, 2**64 - 1).map(lambda seed: build(random.Random(seed), **kwargs))
