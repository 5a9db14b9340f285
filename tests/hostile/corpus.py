"""The fixed hostile corpus, generated at test time (no 50 MB file in git).

``python -m tests.hostile.corpus DIR`` writes every mail as DIR/<name>.eml,
for a look with a mail client or a replay against a test server.
"""

from __future__ import annotations

import base64
import io
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from stdnum.fr import nir

BOT = "coordination@esp-valdelorge.mssante.test"
CLAIRE = ("Claire DURAND", "claire.durand@medecin.mssante.test")
KARIM = ("Karim BENALI", "karim.benali@mk.mssante.test")
MiB = 2**20


def ins(order: int) -> str:
    first13 = f"2480375056{order:03d}"
    return first13 + nir.calc_check_digits(first13)


def plan_body(*, family: str = "MARTIN", given: str = "Jeanne", order: int = 1,
              problem: str = "Diabète de type 2", note: str = "") -> str:
    return (f"Patient : {family} {given}\r\nNée le : 12/03/1948\r\nSexe : F\r\n"
            f"INS : {ins(order)}\r\nConsentement : oui\r\n"
            "Équipe : IDE Julien MARIE\r\n"
            f"Problème : {problem}\r\n"
            + (f"Note : {note}\r\n" if note else "")
            + "Action : IDE | surveillance glycémies | chaque semaine\r\n")


def mail(subject: str, body: str, *, sender: tuple[str, str] = CLAIRE, mid: str,
         extra: str = "") -> bytes:
    name, address = sender
    head = (f"From: {name} <{address}>\r\nTo: {BOT}\r\n"
            f"Subject: {subject}\r\nDate: Mon, 23 Nov 2026 09:12:44 +0100\r\n"
            f"Message-ID: <{mid}@medecin.mssante.test>\r\n{extra}MIME-Version: 1.0\r\n")
    return (head + "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + body).encode()


def with_attachment(subject: str, body: str, *, mid: str, filename: str, content_type: str,
                    payload: bytes) -> bytes:
    name, address = CLAIRE
    return (f"From: {name} <{address}>\r\nTo: {BOT}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{mid}@medecin.mssante.test>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="hostile"\r\n\r\n'
            "--hostile\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n"
            f"--hostile\r\nContent-Type: {content_type}\r\n"
            f'Content-Disposition: attachment; filename="{filename}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + base64.encodebytes(
                payload) + b"\r\n--hostile--\r\n"


def zip_bomb(unpacked: int = 200 * MiB) -> bytes:
    """A small zip that unpacks to ``unpacked`` bytes of zeros."""
    out = io.BytesIO()
    chunk = bytes(4 * MiB)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("rapport.pdf", "w", force_zip64=True) as member:
            for _ in range(unpacked // len(chunk)):
                member.write(chunk)
    return out.getvalue()


def zip_bomb_mail() -> bytes:
    return with_attachment("NOUVEAU PPS", plan_body(order=11), mid="zip-bomb",
                           filename="IHE_XDM.ZIP", content_type="application/zip",
                           payload=zip_bomb())


def oversized_attachment_mail(size: int = 11 * MiB) -> bytes:
    return with_attachment("NOUVEAU PPS", plan_body(order=12), mid="oversized",
                           filename="scanner.pdf", content_type="application/pdf",
                           payload=b"%PDF-1.7\n" + bytes(size - 9))


def huge_mail(size: int = 50 * MiB, *, mid: str = "huge-50mb", order: int = 13) -> bytes:
    """A plain mail of about ``size`` bytes (at most one line more): a plan
    followed by megabytes of text."""
    head = mail("NOUVEAU PPS", plan_body(order=order), mid=mid)
    line = b"Compte rendu " + b"x" * 60 + b"\r\n"
    return head + line * ((size - len(head)) // len(line) + 1)


def crlf_subject_mail() -> bytes:
    # An encoded CR LF in the subject, a raw bare CR in another header.
    return mail("=?utf-8?q?AIDE=0D=0ABcc:_evil@evil.test=0D=0A?=", "AIDE", mid="crlf-subject",
                extra="X-Note: a\rBcc: evil2@evil.test\r\n")


def crlf_fields_mail() -> bytes:
    return mail("NOUVEAU PPS\rBcc: evil@evil.test", plan_body(
        order=14, problem="Chutes\rBcc: evil@evil.test", note="x\u2028To: evil@evil.test"),
        mid="crlf-fields")


SCRIPT = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def html_fields_mail() -> bytes:
    return mail(f"NOUVEAU PPS {SCRIPT}", plan_body(order=15, problem=SCRIPT,
                                                    note="<b>gras</b> & <a href='javascript:x'>"),
                mid="html-fields")


LOOKALIKE_SENDERS = [
    ("Claire DURAND", "claire.durand@medecin.mssante.test.evil.test"),
    ("Claire DURAND", "claire.durand@x.mssante.fr.evil.test"),
    ("Claire DURAND", "claire.durand@medecin-mssante.test"),
    ("Claire DURAND", "claire.durand@evilmssante.test"),
    ("Claire DURAND", "claire.durand@medecin.mssante.test@evil.test"),
]


def lookalike_mail(number: int) -> bytes:
    return mail("AIDE", "AIDE", sender=LOOKALIKE_SENDERS[number], mid=f"lookalike-{number}")


def roster_name_outside_address_mail() -> bytes:
    return mail("NOUVEAU PPS", plan_body(order=16), sender=("Claire DURAND",
                                                            "claire.durand@gmail.com"),
                mid="roster-name-outside")


def outside_address_in_team_mail() -> bytes:
    body = plan_body(order=17).replace(
        "Équipe : IDE Julien MARIE", "Équipe : IDE Julien MARIE <julien.marie@evil.test>, "
        "kiné Karim BENALI (karim.benali@gmail.com)")
    return mail("NOUVEAU PPS", body, mid="outside-in-team")


def forged_reply_mail(ref: str, *, mid: str, domain: str = "esp-valdelorge.mssante.test") -> bytes:
    return mail("RE: statut", "STATUT", sender=KARIM, mid=mid,
                extra=f"In-Reply-To: <{ref}.ack.1@{domain}>\r\n"
                      f"References: <{ref}.ack.1@{domain}>\r\n")


CORPUS: dict[str, Callable[[], bytes]] = {
    "zip-bomb": zip_bomb_mail,
    "oversized-attachment": oversized_attachment_mail,
    "huge-50mb": huge_mail,
    "crlf-subject": crlf_subject_mail,
    "crlf-fields": crlf_fields_mail,
    "html-fields": html_fields_mail,
    **{f"lookalike-{n}": (lambda n=n: lookalike_mail(n)) for n in range(len(LOOKALIKE_SENDERS))},
    "roster-name-outside-address": roster_name_outside_address_mail,
    "outside-address-in-team": outside_address_in_team_mail,
    "forged-in-reply-to": lambda: forged_reply_mail("PPS-2026-0001", mid="forged"),
}


def write_corpus(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in CORPUS.items():
        path = folder / f"{name}.eml"
        path.write_bytes(build())
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_corpus(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")):
        print(written)
