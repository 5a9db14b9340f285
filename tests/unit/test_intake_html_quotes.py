"""HTML to text and quote stripping, on their own."""

from __future__ import annotations

from esp_coord.intake.html_text import html_to_text
from esp_coord.intake.quotes import extract_body


def test_blocks_lists_and_breaks() -> None:
    html = (
        "<html><head><title>T</title><style>p {color: red}</style></head><body>"
        "<div>Patient : X</div><div><br></div><div>Né le : 1</div>"
        "<p>a<br>b</p><ul><li>un</li><li><p>deux</p></li></ul>"
        "<h2>Titre</h2><table><tr><td>INS :</td><td>1 2</td></tr></table>"
        "<script>alert('x')</script></body></html>"
    )
    assert html_to_text(html)[0].split("\n") == [
        "Patient : X",
        "",
        "Né le : 1",
        "a",
        "b",
        "- un",
        "- deux",
        "Titre",
        "INS : 1 2",
    ]


def test_entities_whitespace_and_outlook_markup() -> None:
    html = (
        "<p class=MsoNormal>Probl&egrave;me&nbsp;:   plaie\n  du talon<o:p></o:p></p>"
        "<p class=MsoNormal><![if !supportLists]>\u00b7\u00a0\u00a0\u00a0 <![endif]>"
        "Action&nbsp;: IDE<o:p></o:p></p>"
        "<p class=MsoNormal><o:p>&nbsp;</o:p></p><p>&lt;b&gt; &amp; &#233;</p>"
    )
    assert html_to_text(html)[0].split("\n") == [
        "Problème\u00a0: plaie du talon",
        "- Action\u00a0: IDE",
        "",
        "<b> & é",
    ]


def test_unclosed_head_and_broken_markup() -> None:
    assert html_to_text("<html><head><meta x><body><p>statut")[0] == "statut"
    assert html_to_text("<p>a</b></i><div <<>>b")[0] in ("a", "a\nb", "a\n>b")
    assert html_to_text("")[0] == ""
    assert html_to_text("<pre>  a\n   b</pre>")[0] == "  a\n   b"


def test_blockquote_becomes_quoted_lines() -> None:
    html = (
        "<div>FAIT 3</div>"
        '<div class="moz-cite-prefix">Le 23/11/2026 à 09:13, Coordination a écrit&nbsp;:</div>'
        '<blockquote type="cite"><p>Plan créé</p><blockquote>vieux</blockquote></blockquote>'
    )
    text = html_to_text(html)[0]
    assert text.split("\n") == [
        "FAIT 3",
        "Le 23/11/2026 à 09:13, Coordination a écrit\u00a0:",
        "> Plan créé",
        "> > vieux",
    ]
    assert extract_body(text) == "FAIT 3"


def test_signature_separators() -> None:
    assert extract_body("statut\n--\nDr X") == "statut"
    assert extract_body("statut\n-- \nDr X") == "statut"
    assert extract_body("statut\n---\nDr X") == "statut\n---\nDr X"
    # Indented or with trailing spaces, as the plan lexer always accepted it.
    assert extract_body("statut\n  --  \nDr X") == "statut"
    assert extract_body("statut\n--\u00a0\u202f\nDr X") == "statut"
    assert extract_body("statut\n-- Dr X\nRPPS") == "statut\n-- Dr X\nRPPS"
    assert extract_body("a\n\n\n  \n\u00a0\n") == "a"


def test_quoted_lines_inside_and_attribution_without_quotes() -> None:
    assert extract_body("> a\nstatut\n> b\nFAIT 2") == "\nstatut\n\nFAIT 2"
    # An attribution not followed by quoted text (Outlook style) cuts.
    assert extract_body("statut\nLe 1 déc. 2026, X a écrit :\nancien texte") == "statut"
    # Top-posting with the whole quote below: cut at the attribution.
    assert extract_body("statut\n\nOn Mon, X wrote:\n> a\n> b\n") == "statut"


def test_huge_line_is_kept_whole() -> None:
    # Two half-megabyte lines that look like an attribution but are not one. How
    # long they take is not asserted here: timing is `make bench`'s.
    line = "Le " + "x" * 500_000 + " a écrit :"
    assert extract_body("statut\n" + line + "\n" + line) == "statut\n" + line + "\n" + line


def test_outlook_html_reply_is_cut_at_its_header_block() -> None:
    html = (
        '<html><body><div dir="ltr">FAIT 3 PPS-2026-0001</div>'
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>De&nbsp;:</b> Coordination '
        "&lt;coordination@esp-valdelorge.mssante.test&gt;<br><b>Envoyé&nbsp;:</b> mardi 24 "
        "novembre 2026 18:05<br><b>À&nbsp;:</b> Karim BENALI<br><b>Objet&nbsp;:</b> "
        "[PPS-2026-0001] Rappel</font><div>&nbsp;</div></div>"
        "<div>Patient : MARTIN Jeanne</div></body></html>"
    )
    assert extract_body(html_to_text(html)[0]) == "FAIT 3 PPS-2026-0001"


def test_gmail_html_reply_is_cut_at_the_attribution() -> None:
    html = (
        '<div dir="ltr">statut</div><br><div class="gmail_quote"><div dir="ltr" '
        'class="gmail_attr">Le mar. 24 nov. 2026 à 18:05, Coordination &lt;<a href="mailto:'
        'c@x.test">c@x.test</a>&gt; a écrit&nbsp;:<br></div><blockquote class="gmail_quote">'
        "<div>Plan créé</div></blockquote></div>"
    )
    assert extract_body(html_to_text(html)[0]) == "statut"
