"""Bodies of the example mails as parse_mail gives them (quote and signature
removed), the example roster as ``Person``s, and a ready-made plan 01."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from plans.commands import detect_command
from plans.grammar import parse_new_plan
from plans.model import Plan
from plans.people import Person

PARIS = timezone(timedelta(hours=1))  # November: UTC+1


def _p(name: str, email: str, profession: str, *roles: str) -> Person:
    return Person(name, email, profession, frozenset(roles))


ROSTER = [
    _p("Claire DURAND", "claire.durand@medecin.mssante.test", "medecin", "referent"),
    _p("Paul GIRARD", "paul.girard@medecin.mssante.test", "medecin"),
    _p("Julien MARIE", "julien.marie@infirmier.mssante.test", "infirmier"),
    _p("Sophie LEROY", "sophie.leroy@pharmacien.mssante.test", "pharmacien"),
    _p("Karim BENALI", "karim.benali@mk.mssante.test", "masseur-kinesitherapeute"),
    _p("Lea FONTAINE", "lea.fontaine@dieteticien.mssante.test", "dieteticien"),
    _p("Ana COSTA", "ana.costa@esp-valdelorge.mssante.test", "coordinatrice", "coordinator"),
]
DURAND, GIRARD, MARIE, LEROY, BENALI, FONTAINE, COSTA = ROSTER

BODY_01 = """Patient : MARTIN Jeanne
Née le : 12/03/1948
Sexe : F
INS : 2 48 03 75 056 118 78
Consentement : oui
Référent : Dr DURAND
Équipe : IDE Julien MARIE, pharmacien LEROY, kiné BENALI

Problème : Diabète de type 2 déséquilibré (HbA1c 8,9 %)
Problème : Insuffisance cardiaque, deux décompensations en 2026
Problème : Chutes à domicile
Souhaits du patient : rester à domicile, garder son autonomie pour les courses
Objectif : HbA1c < 7,5 % d'ici 6 mois
Objectif : aucune hospitalisation non programmée sur 6 mois

Action : IDE | surveillance glycémies et poids, examen des pieds | chaque semaine
Action : pharmacien | bilan partagé de médication | 15/12/2026
Action : kiné | rééducation à la marche, prévention des chutes | 2 fois par semaine pendant 3 mois
Action : Dr DURAND | consultation de suivi | tous les 3 mois
Protocole : diabete-type-2
Alerte : prise de poids > 2 kg en 3 jours -> appeler Dr DURAND
Réévaluation : 15/05/2027
"""

BODY_02 = """MAJ
Action : IDE | éducation à l'autosurveillance glycémique | 01/12/2026
Note : patiente motivée, fille présente le mercredi
"""

BODY_06 = """Patient : BERNARD Louis
Né le : 31/02/1937
INS : 1 37 11 69 123 045 99
Consentement : oui
Action : podologue | soins de pieds | mensuel
Action : IDE | pansement | la semaine des quatre jeudis
"""

# Example 07 is HTML only: its text as an HTML-to-text conversion gives it
# (no-break spaces before the colons, list items as "- " bullets).
BODY_07 = """Patient\u00a0: PETIT Odette
Née le\u00a0: 25 juin 1941
INS\u00a0: 241062A00402743
Consentement\u00a0: OUI
Problème\u00a0: soins palliatifs à domicile, cancer du pancréas
Objectif\u00a0: maintien à domicile selon le souhait de la patiente
- Action\u00a0: IDE | évaluation de la douleur | tous les jours
- Action\u00a0: Dr GIRARD | visite à domicile | chaque lundi

Dr Paul Girard
"""

BODY_10 = """PROBLEME : plaie du talon droit, apparue le 28/11
ACTION : IDE | pansement du talon | tous les 2 jours jusqu'au 31/12/2026
NOTE : prévenir le médecin si signes d'infection
"""

TEAM_01 = [DURAND, MARIE, LEROY, BENALI]
CREATED_AT = datetime(2026, 11, 23, 9, 12, 44, tzinfo=PARIS)


def plan_01() -> Plan:
    parsed = parse_new_plan(detect_command("NOUVEAU PPS", BODY_01).lines,
                            today=date(2026, 11, 23), sender=DURAND, roster=ROSTER)
    assert parsed.ok, parsed.errors
    assert parsed.value is not None
    return Plan.create(parsed.value, ref="PPS-2026-0001", author=DURAND.email, at=CREATED_AT,
                       source_message_id="<20261123091244.4411@medecin.mssante.test>")
