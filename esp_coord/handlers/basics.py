"""AIDE, and the answer to what was not understood: never a silent drop."""

from __future__ import annotations

from esp_coord.answers import Answer, reply_subject
from esp_coord.processing import Request
from plans.commands import DISPLAY, Detected, closest_commands
from plans.render import render_help
from plans.typography import french

# One example per command, as a professional would type it: shown when a mail
# is not understood, next to the closest commands.
EXAMPLES: dict[str, str] = {
    "NOUVEAU_PPS": "Objet : NOUVEAU PPS, puis une ligne par information (Patient : MARTIN Jeanne…)",
    "MAJ": "Objet : MAJ PPS-2026-0001, puis par exemple « Action : IDE | pansement | demain »",
    "CLORE": "Objet : CLORE PPS-2026-0001",
    "STATUT": "Objet : STATUT PPS-2026-0001 (ou répondez « statut » à un message du service)",
    "LISTE": "Objet : LISTE",
    "FAIT": "Objet : FAIT 2 PPS-2026-0001",
    "REPORTER": "Objet : REPORTER 2 au 15/12/2026 PPS-2026-0001",
    "AIDE": "Objet : AIDE",
    "RCP_NOUVELLE": "Objet : RCP NOUVELLE, puis Date : 03/12/2026 à 12h30",
    "RCP": "Objet : RCP",
    "ANNULER_RCP": "Objet : ANNULER RCP-2026-001",
    "COMPTE_RENDU": "Objet : COMPTE-RENDU RCP-2026-001",
}


async def help_answer(request: Request, detected: Detected) -> list[Answer]:
    return [Answer(subject=reply_subject(request.mail.subject, "Aide"),
                   text=render_help(request.sender.name).text)]


async def not_understood_answer(request: Request, detected: Detected) -> list[Answer]:
    looked_at = detected.text or "(message vide)"
    closest = closest_commands(detected.text) or ["AIDE", "STATUT", "NOUVEAU_PPS"]
    lines = [
        f"Bonjour {request.sender.name},",
        "",
        f"Je n'ai pas reconnu de commande dans votre message (j'ai lu : « {looked_at[:80]} »).",
        "Rien n'a été enregistré.",
        "",
        "Les commandes les plus proches :",
    ]
    for name in closest:
        lines.append(f"  - {DISPLAY[name]} : {EXAMPLES[name]}")
    lines += ["", "Écrivez AIDE pour recevoir la liste complète des commandes avec un exemple chacune."]
    return [Answer(subject=reply_subject(request.mail.subject, "Message non compris"),
                   text=french("\n".join(lines) + "\n"))]
