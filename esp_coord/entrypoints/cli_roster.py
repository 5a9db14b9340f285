"""``esp-coord roster import|check``: the team's roster from the Annuaire Santé.

``import FILE --rpps N [--rpps N ...] [--name NAME --postcode CP ...]`` prints
the ``[[team.members]]`` entries to paste into the team's configuration; what
it could not decide (several addresses, a profession the roster has no word
for, someone not found) is said in comments above each entry. ``check FILE
--config team.toml`` says which roster addresses the extraction no longer
lists, and whose RPPS has another personal address now.

FILE is the Annuaire Santé's daily Extraction_Correspondance_MSSante, the ZIP
or the text file inside it (docs/roster.md). Nothing is logged: names and
addresses only go to standard output.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from esp_coord.annuaire import MAX_LINE_BYTES, Extraction, ExtractionError, Mailbox, ReadStats
from esp_coord.annuaire_match import (
    MAX_PER_KEY,
    Finding,
    NameQuery,
    Proposal,
    check,
    find,
    people,
    propose,
)
from esp_coord.config import ConfigError, rpps_is_valid
from esp_coord.offline_config import load_offline_config

_EPILOG = ("Exit status: 0 nothing to act on; 1 something to act on, said in the output (an "
           "RPPS or a name not found, a roster address gone or changed); 2 the file or the "
           "configuration cannot be read, or an argument is wrong.")

T = TypeVar("T")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("roster", help="compose or check the roster from the Annuaire "
                              "Santé's list of MSSanté addresses", description=__doc__,
                              epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="roster_command", required=True)
    i = sub.add_parser("import", help="print [[team.members]] entries for RPPS numbers or "
                       "names", epilog=_EPILOG)
    i.add_argument("file", help="Extraction_Correspondance_MSSante: the .zip or its .txt")
    i.add_argument("--rpps", action="append", default=[], metavar="N",
                   help="an 11-digit RPPS number (repeat for several people)")
    i.add_argument("--name", action="append", default=[], metavar="NAME",
                   help="a last name, or first and last name (repeat; needs --postcode)")
    i.add_argument("--postcode", action="append", default=[], metavar="CP",
                   help="where the person works: a postcode, or a department (2 or 3 "
                   "digits); one for all the names, or one per --name")
    i.set_defaults(run=run_import)
    c = sub.add_parser("check", help="which roster addresses are gone or changed",
                       epilog=_EPILOG)
    c.add_argument("file", help="Extraction_Correspondance_MSSante: the .zip or its .txt")
    c.add_argument("--config", required=True)
    c.set_defaults(run=run_check)


def _fail(message: str) -> int:
    print(f"esp-coord: {message}", file=sys.stderr)
    return 2


def _read(path: str, use: Callable[[Iterator[Mailbox]], T]) -> tuple[T, ReadStats] | str:
    """``use`` over the file's mailboxes, or why the file cannot be read."""
    try:
        with open(path, "rb") as f, Extraction(f) as extraction:
            return use(iter(extraction)), extraction.stats
    except OSError as e:
        return f"{path}: cannot be read ({e.strerror or type(e).__name__})"
    except ExtractionError as e:
        return f"{path}: {e}"


def _queries(args: argparse.Namespace) -> list[NameQuery] | str:
    names, codes = args.name, [c.strip() for c in args.postcode]
    if not names:
        return "--postcode is for --name: give the name too" if codes else []
    if len(codes) not in (1, len(names)):
        return "give one --postcode for all the names, or one per --name"
    if not all(c.isdigit() and 2 <= len(c) <= 5 for c in codes):
        return "--postcode: a postcode (5 digits) or a department (2 or 3 digits)"
    if len(codes) == 1:
        codes *= len(names)
    return [NameQuery(n.strip(), c) for n, c in zip(names, codes, strict=True)]


def _area(groups: Iterable[list[Mailbox]], queries: list[NameQuery]) -> set[str]:
    """Where the team works: the postcodes asked for, and those of the people
    who have one personal address (they say nothing of the others' choice)."""
    area = {q.postcode for q in queries}
    for group in groups:
        personal = {b.address: b.postcode for b in group if b.personal}
        if len(personal) == 1:
            area.update(personal.values())
    return area


class _Report:
    """The entries printed by ``import``, and what is left to act on."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.proposed = self.to_confirm = self.missing = 0

    def add(self, proposal: Proposal) -> None:
        self.blocks.append(_entry(proposal))
        if proposal.chosen is None:
            self.missing += 1
        else:
            self.proposed += 1
            self.to_confirm += len(proposal.personal) > 1

    def not_found(self, text: str) -> None:
        self.blocks.append(text)
        self.missing += 1


def run_import(args: argparse.Namespace) -> int:
    wanted = list(dict.fromkeys(r.replace(" ", "") for r in args.rpps))
    bad = [r for r in wanted if not rpps_is_valid(r)]
    if bad:
        return _fail(f"--rpps {bad[0]}: expected 11 digits with a valid key")
    queries = _queries(args)
    if isinstance(queries, str):
        return _fail(queries)
    if not wanted and not queries:
        return _fail("give at least one --rpps, or --name with --postcode")
    result = _read(args.file, lambda boxes: find(boxes, rpps=wanted, names=queries))
    if isinstance(result, str):
        return _fail(result)
    found, stats = result
    named = {q: people(found.by_name[q]) for q in queries}
    area = _area([*found.by_rpps.values(), *(g for gs in named.values() for g in gs)], queries)
    report = _Report()
    for r in wanted:
        if found.by_rpps[r]:
            report.add(propose(found.by_rpps[r], area=area))
        else:
            report.not_found(f"# RPPS {r}: not in the extraction (no mailbox of any kind).")
    done: set[str | None] = set(wanted)
    for query, persons in named.items():
        label = f'# "{_clean(query.name)}" at {query.postcode}: '
        if not persons:
            report.not_found(label + "nobody found.")
            continue
        fresh = [g for g in persons if g[0].rpps is None or g[0].rpps not in done]
        count = "1 person" if len(persons) == 1 else f"{len(persons)} people"
        if len(fresh) < len(persons):
            count += f", {len(persons) - len(fresh)} already above"
        report.blocks.append(label + count + (": keep the right one." if len(fresh) > 1
                                              else "."))
        for group in fresh:
            report.add(propose(group, postcode=query.postcode, area=area))
            done.add(group[0].rpps)
    print(_summary(Path(args.file).name, stats, comment=True))
    if found.dropped:
        print(f"# {found.dropped} more lines of the same people were ignored (over "
              f"{MAX_PER_KEY} for one person: a damaged file?).")
    print()
    print("\n\n".join(report.blocks))
    print(f"\n# {report.proposed} proposed, {report.to_confirm} with several addresses to "
          f"confirm, {report.missing} not found.")
    return 1 if report.missing else 0


def _entry(p: Proposal) -> str:
    who = f"RPPS {p.rpps}" if p.rpps else "no RPPS"
    job = (f"{_clean(p.profession_label)} (code {_clean(p.profession_code)})"
           if p.profession_code else "no profession listed")
    name = _clean(p.name) or "no name listed"
    lines = [f"# {who} - {name}, {job}"]
    if p.other:
        lines.append("#   also on organisation mailboxes, never proposed: " +
                     ", ".join(_clean(b.address) for b in p.other[:5]))
    if p.chosen is None:
        lines.append("#   no personal mailbox (PER): nothing to propose.")
        return "\n".join(lines)
    if len(p.personal) > 1:
        lines[0] += f": {len(p.personal)} personal addresses"
        for b in p.personal:
            mark = "  <- proposed" if b is p.chosen else ""
            lines.append(f"#   {_clean(b.address)}  ({_where(b)}){mark}")
        lines.append(f"#   Proposed: {p.reason}.")
    else:
        lines[0] += f", at {_where(p.chosen)}"
    profession = p.profession
    if profession is None:
        profession = (f"UNKNOWN: {p.profession_label or 'no profession'}"
                      f"{f' (code {p.profession_code})' if p.profession_code else ''}")
        lines.append("#   The roster has no profession for this one: replace the value "
                     "below (medecin, infirmier, pharmacien...).")
    lines += ["[[team.members]]", f"name = {_toml(p.name)}",
              f"email = {_toml(p.chosen.address)}", f"profession = {_toml(profession)}"]
    if p.rpps:
        lines.append(f"rpps = {_toml(p.rpps)}")
    return "\n".join(lines)


def _where(box: Mailbox) -> str:
    # The L6 line is « 42110 FEURS » when filled in: the postcode only once.
    place = box.city if box.city.startswith(box.postcode) else f"{box.postcode} {box.city}"
    return _clean(", ".join(p for p in (box.organisation, place.strip()) if p) or "no address")


def run_check(args: argparse.Namespace) -> int:
    try:
        config = load_offline_config(args.config)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    result = _read(args.file, lambda boxes: check(boxes, config.members))
    if isinstance(result, str):
        return _fail(result)
    findings, stats = result
    print(_summary(Path(args.file).name, stats))
    for f in findings:
        print(_finding(f))
    bad = sum(f.status != "ok" for f in findings)
    print(f"{len(findings)} roster addresses: {len(findings) - bad} still listed as they are, "
          f"{bad} to act on.")
    return 1 if bad else 0


def _finding(f: Finding) -> str:
    m = f.member
    who = f"{m.name} <{m.email}>"
    now = ", ".join(_clean(a) for a in f.now)
    if f.status == "ok":
        return f"ok       {who}"
    if f.status == "missing":
        tail = (f"; RPPS {m.rpps} now has {now}" if now else
                f"; nor any personal address for RPPS {m.rpps}" if m.rpps else "")
        return f"MISSING  {who}: no longer in the extraction{tail}."
    if f.status == "moved":
        return f"CHANGED  {who}: still listed, but RPPS {m.rpps} now has {now}."
    return (f"OTHER    {who}: listed under RPPS {f.holder}, not {m.rpps}" +
            (f"; RPPS {m.rpps} has {now}." if now else "."))


def _summary(name: str, stats: ReadStats, *, comment: bool = False) -> str:
    skipped = ""
    if stats.skipped:
        parts = [(stats.wrong_columns, "a wrong number of columns"),
                 (stats.bad_encoding, "not UTF-8"),
                 (stats.too_long, f"longer than {MAX_LINE_BYTES} bytes"),
                 (stats.no_address, "no address")]
        skipped = " (" + ", ".join(f"{n} {why}" for n, why in parts if n) + ")"
    lines = [f"{_clean(name)}: {stats.lines:,} lines read, {stats.skipped} skipped{skipped}."]
    if not stats.header_exact:
        lines.append("The header differs from the documented one: its columns were found by "
                     "name (see esp_coord/annuaire.py).")
    return "\n".join(("# " if comment else "") + line for line in lines)


def _clean(text: str) -> str:
    """File text for the terminal and TOML comments: no control or format
    characters (a line of the file must not rewrite what the operator sees)."""
    return "".join("?" if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)


def _toml(text: str) -> str:
    """A TOML basic string."""
    out = ['"']
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif unicodedata.category(c) == "Cc":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)
