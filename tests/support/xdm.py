"""IHE XDM archives as hospitals send them, built in the tests.

The CDA document has the header of the ANS example « Lettre de liaison à la
sortie d'un établissement de soins » (LDL-SES 2022.01,
github.com/ansforge/TestContenuCDA-3-0, ``ExemplesCDA/LDL-SES_2022.01.xml``),
element for element where the service reads it, with the identity of a test
patient; the body is one short section. ``METADATA.XML`` is an ebRIM
``SubmitObjectsRequest`` as IHE ITI TF-3 4.1.2 / 4.2 shapes it: a
submission set, one document entry per document (the CDA, its PDF), their
classifications, identifiers and ``HasMember`` associations, and an RPLC
association for a replacement. The mail is the MSSanté one: subject
``XDM/1.0/DDM+<libellé> <NOM> <prénom> <date>``, ``X-MSS-CODECDA``,
``X-MSS-INS``, the archive as ``IHE_XDM.ZIP`` and the PDF beside it.

The patient is the ANS example's test identity (INS 279035121518989 under
the test OID 1.2.250.1.213.1.4.10, PAT-TROIS Dominique, 28/03/1979, F): a
test identity published by the ANS, not a person.
"""

from __future__ import annotations

import base64
import io
import zipfile
from dataclasses import dataclass, field, replace
from email.utils import make_msgid
from xml.sax.saxutils import escape, quoteattr

__all__ = ["HOSPITAL", "Letter", "cda_document", "metadata_xml", "xdm_archive", "xdm_mail"]

HOSPITAL = "secretariat.cardio@hegp.mssante.test"
INS_TEST_OID = "1.2.250.1.213.1.4.10"
BOT = "coordination@esp-valdelorge.mssante.test"


@dataclass(frozen=True)
class Letter:
    """One hospital letter: what the CDA and the metadata say."""

    ins: str = "279035121518989"
    ins_oid: str = INS_TEST_OID
    birth_name: str = "PAT-TROIS"
    used_name: str = "PAT-TROIS"
    given_names: str = "DOMINIQUE MARIE-LOUISE"
    first_given: str = "DOMINIQUE"
    birth: str = "19790328"
    sex: str = "F"
    code: str = "11490-0"
    code_display: str = "Lettre de liaison à la sortie d'un établissement de soins"
    title: str = "Lettre de liaison à la sortie de l'établissement de santé"
    effective: str = "20261203133000+0100"
    doc_root: str = "1.2.250.1.213.1.1.1.29.1"
    doc_ext: str = "LDL-0001"
    set_id: str = "8FA485AB-C5FF-4313-9B3F-4E8FB541F5C5"
    version: int = 1
    replaces: str = ""  # root^extension of the version replaced
    author_given: str = "Charles"
    author_family: str = "DAVID"
    institution: str = "Hôpital Européen Georges Pompidou"
    # METADATA.XML: the patientId (None: same INS as the CDA) and the traits.
    meta_ins: str | None = None
    meta_oid: str | None = None
    meta_traits: bool = True
    meta_birth: str | None = None
    ipp: str = "1234567890121"
    cda_has_ins: bool = True
    body: str = "Synthèse médicale du séjour : infection respiratoire aiguë."
    extra_entries: dict[str, bytes] = field(default_factory=dict)

    def but(self, **changes: object) -> Letter:
        return replace(self, **changes)  # type: ignore[arg-type]


def _x(text: str) -> str:
    return escape(text)


def cda_document(letter: Letter) -> bytes:
    ins_line = (f'            <id extension="{letter.ins}" root="{letter.ins_oid}"/>\n'
                if letter.cda_has_ins else "")
    related = ""
    if letter.replaces:
        root, _, ext = letter.replaces.partition("^")
        ext_attr = f" extension={quoteattr(ext)}" if ext else ""
        related = (f'    <relatedDocument typeCode="RPLC">\n      <parentDocument>\n'
                   f'        <id root={quoteattr(root)}{ext_attr}/>\n'
                   f'      </parentDocument>\n    </relatedDocument>\n')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="CDA-FO.xsl"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
    <realmCode code="FR"/>
    <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
    <templateId root="2.16.840.1.113883.2.8.2.1"/>
    <templateId root="1.2.250.1.213.1.1.1.1"/>
    <templateId root="1.2.250.1.213.1.1.1.29" extension="2022.01"/>
    <id root="{letter.doc_root}" extension="{letter.doc_ext}"/>
    <code code="{letter.code}" displayName={quoteattr(letter.code_display)}
        codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC"/>
    <title>{_x(letter.title)}</title>
    <effectiveTime value="{letter.effective}"/>
    <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25" displayName="Normal"/>
    <languageCode code="fr-FR"/>
    <setId root="{letter.set_id}"/>
    <versionNumber value="{letter.version}"/>
{related}    <recordTarget>
        <patientRole>
{ins_line}            <id extension="{letter.ipp}" root="1.2.3.4.567.8.9.10"/>
            <addr><postalCode>75007</postalCode><city>PARIS</city></addr>
            <telecom value="tel:0144534551" use="H"/>
            <patient classCode="PSN">
                <name>
                    <family qualifier="BR">{_x(letter.birth_name)}</family>
                    <given>{_x(letter.given_names)}</given>
                    <given qualifier="BR">{_x(letter.first_given)}</given>
                    <family qualifier="CL">{_x(letter.used_name)}</family>
                    <given qualifier="CL">{_x(letter.first_given)}</given>
                </name>
                <administrativeGenderCode code="{letter.sex}" codeSystem="2.16.840.1.113883.5.1"/>
                <birthTime value="{letter.birth}"/>
                <birthplace><place><addr><county>63220</county><city>MAZOIRES</city></addr>
                </place></birthplace>
            </patient>
        </patientRole>
    </recordTarget>
    <author>
        <time value="{letter.effective}"/>
        <assignedAuthor classCode="ASSIGNED">
            <id root="1.2.250.1.71.4.2.1" extension="801234567897"/>
            <code code="G15_10/SM27" displayName="Médecin - Médecine interne (SM)"
                codeSystem="1.2.250.1.213.1.1.4.5"/>
            <telecom value="tel:0141297500" use="WP"/>
            <assignedPerson>
                <name><given>{_x(letter.author_given)}</given>
                <family>{_x(letter.author_family)}</family><prefix>M</prefix><suffix>DR</suffix>
                </name>
            </assignedPerson>
            <representedOrganization>
                <id root="1.2.250.1.71.4.2.2" extension="1750803447"/>
                <name>{_x(letter.institution)}</name>
            </representedOrganization>
        </assignedAuthor>
    </author>
    <custodian typeCode="CST">
        <assignedCustodian>
            <representedCustodianOrganization>
                <id root="1.2.250.1.71.4.2.2" extension="1750803447"/>
                <name>{_x(letter.institution)}</name>
            </representedCustodianOrganization>
        </assignedCustodian>
    </custodian>
    <documentationOf typeCode="DOC">
        <serviceEvent classCode="ACT" moodCode="EVN">
            <code code="IMP" displayName="Hospitalisation (établissement, y compris HAD)"
                codeSystem="2.16.840.1.113883.5.4"/>
            <effectiveTime><low value="20261029111700+0100"/>
            <high value="{letter.effective}"/></effectiveTime>
        </serviceEvent>
    </documentationOf>
    <component>
        <structuredBody>
            <component>
                <section>
                    <code code="42545-4" codeSystem="2.16.840.1.113883.6.1"/>
                    <title>Synthèse médicale du séjour</title>
                    <text>{_x(letter.body)}</text>
                </section>
            </component>
        </structuredBody>
    </component>
</ClinicalDocument>
""".encode()


def _slot(name: str, *values: str) -> str:
    inner = "".join(f"<rim:Value>{_x(v)}</rim:Value>" for v in values)
    return f'<rim:Slot name="{name}"><rim:ValueList>{inner}</rim:ValueList></rim:Slot>'


def _classification(scheme: str, obj: str, node: str, coding: str, label: str, n: int) -> str:
    return (f'<rim:Classification classificationScheme="{scheme}" classifiedObject="{obj}" '
            f'id="cl{n}" nodeRepresentation={quoteattr(node)} '
            'objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:'
            f'Classification">{_slot("codingScheme", coding)}'
            f'<rim:Name><rim:LocalizedString value={quoteattr(label)}/></rim:Name>'
            '</rim:Classification>')


def metadata_xml(letter: Letter, *, pdf: bool = True) -> bytes:
    ins = letter.meta_ins if letter.meta_ins is not None else letter.ins
    oid = letter.meta_oid if letter.meta_oid is not None else letter.ins_oid
    patient_id = f"{ins}^^^&amp;{oid}&amp;ISO^NH"
    traits = ""
    if letter.meta_traits:
        traits = _slot("sourcePatientInfo",
                       f"PID-5|{letter.birth_name}^{letter.first_given}^"
                       f"{letter.given_names}^^^^L",
                       f"PID-5|{letter.used_name}^{letter.first_given}^^^^^D",
                       f"PID-7|{letter.meta_birth or letter.birth}", f"PID-8|{letter.sex}")
    author = ('<rim:Classification classificationScheme="urn:uuid:93606bcf-9494-43ec-9b4e-'
              'a7748d1a838d" classifiedObject="Document01" id="author1" nodeRepresentation="">'
              + _slot("authorPerson", f"801234567897^{letter.author_family}^"
                      f"{letter.author_given}^^^DR^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS")
              + _slot("authorInstitution", f"{letter.institution}^^^^^&1.2.250.1.71.4.2.2"
                      "&ISO^IDNST^^^1750803447")
              + "</rim:Classification>")
    unique = f"{letter.doc_root}^{letter.doc_ext}"

    def entry(obj: str, mime: str, uri: str, title: str, n: int) -> str:
        return (
            f'<rim:ExtrinsicObject id="{obj}" mimeType="{mime}" '
            'objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">'
            + _slot("creationTime", letter.effective[:14])
            + _slot("languageCode", "fr-FR")
            + _slot("sourcePatientId", f"{letter.ipp}^^^&1.2.3.4.567.8.9.10&ISO^PI")
            + traits + _slot("URI", uri)
            + f'<rim:Name><rim:LocalizedString value={quoteattr(title)}/></rim:Name>'
            + (author if obj == "Document01" else "")
            + _classification("urn:uuid:f0306f51-975f-434e-a61c-c59651d33983", obj, letter.code,
                              "2.16.840.1.113883.6.1", letter.code_display, n)
            + _classification("urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d", obj,
                              "urn:ihe:iti:xds-sd:text:2008" if mime != "text/xml"
                              else "urn:asip:ci-sis:2010", "1.2.250.1.213.1.1.4.2.282",
                              "Format", n + 10)
            + f'<rim:ExternalIdentifier id="pid{n}" identificationScheme="urn:uuid:58a6f841-'
            f'87b3-4a3e-92fd-a8ffeff98427" registryObject="{obj}" value="{patient_id}">'
            '<rim:Name><rim:LocalizedString value="XDSDocumentEntry.patientId"/></rim:Name>'
            '</rim:ExternalIdentifier>'
            f'<rim:ExternalIdentifier id="uid{n}" identificationScheme="urn:uuid:2e82c1f6-'
            f'a085-4c72-9da3-8640a32e42ab" registryObject="{obj}" '
            f'value={quoteattr(unique if n == 1 else unique + ".pdf")}>'
            '<rim:Name><rim:LocalizedString value="XDSDocumentEntry.uniqueId"/></rim:Name>'
            '</rim:ExternalIdentifier></rim:ExtrinsicObject>')

    entries = entry("Document01", "text/xml", "DOC0001.XML", letter.title, 1)
    if pdf:
        entries += entry("Document02", "application/pdf", "DOC0002.PDF", letter.title, 2)
    members = "".join(
        f'<rim:Association associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:'
        f'HasMember" id="as{n}" sourceObject="SubmissionSet01" targetObject="{obj}">'
        f'{_slot("SubmissionSetStatus", "Original")}</rim:Association>'
        for n, obj in ((1, "Document01"), (2, "Document02"))[: 2 if pdf else 1])
    if letter.replaces:
        members += ('<rim:Association associationType="urn:ihe:iti:2007:AssociationType:RPLC" '
                    'id="as9" sourceObject="Document01" '
                    'targetObject="urn:uuid:0b2a0c2e-0000-4000-8000-000000000001"/>')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
 xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
<rim:RegistryObjectList>
<rim:RegistryPackage id="SubmissionSet01"
 objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage">
{_slot("submissionTime", letter.effective[:14])}
<rim:ExternalIdentifier id="ss-pid"
 identificationScheme="urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
 registryObject="SubmissionSet01" value="{patient_id}"/>
</rim:RegistryPackage>
<rim:Classification id="cl-ss" classifiedObject="SubmissionSet01"
 classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"/>
{entries}
{members}
</rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
""".encode()


PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def xdm_archive(letter: Letter = Letter(), *, pdf: bool = True,
                metadata: bytes | None = None, cda: bytes | None = None) -> bytes:
    """The ``IHE_XDM.ZIP`` of ``letter`` (README.TXT, INDEX.HTM, the subset)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("README.TXT", "Archive IHE XDM produite par le DPI de l'hôpital.\r\n")
        z.writestr("INDEX.HTM", "<html><body><a href=\"IHE_XDM/SUBSET01/DOC0001.XML\">"
                                "Document</a></body></html>")
        z.writestr("IHE_XDM/SUBSET01/METADATA.XML",
                   metadata if metadata is not None else metadata_xml(letter, pdf=pdf))
        z.writestr("IHE_XDM/SUBSET01/DOC0001.XML",
                   cda if cda is not None else cda_document(letter))
        if pdf:
            z.writestr("IHE_XDM/SUBSET01/DOC0002.PDF", PDF)
        for name, data in letter.extra_entries.items():
            z.writestr(name, data)
    return out.getvalue()


def _b64(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def xdm_mail(letter: Letter = Letter(), *, sender: str = HOSPITAL, archive: bytes | None = None,
             replacement: bool = False, receipt: bool = True, subject: str | None = None,
             headers: str | None = None, attachment_name: str = "IHE_XDM.ZIP",
             mid: str | None = None, return_path: bool = True) -> bytes:
    """The MSSanté mail of a hospital carrying ``letter`` (see module docstring).
    ``receipt``: asks for an MDN (Disposition-Notification-To = Return-Path);
    ``return_path`` False leaves the Return-Path to the final server (Dovecot
    writes it from the envelope, as an operator's does)."""
    data = archive if archive is not None else xdm_archive(letter)
    born = f"{letter.birth[6:8]}/{letter.birth[4:6]}/{letter.birth[:4]}"
    subject = subject if subject is not None else (
        ("[Annule et remplace] " if replacement else "")
        + f"XDM/1.0/DDM+{letter.code_display} {letter.birth_name} {letter.first_given} {born}")
    mid = mid or make_msgid(domain=sender.split("@")[1])
    extra = headers if headers is not None else (
        f"X-MSS-CODECDA: {letter.code}\r\nX-MSS-INS: O\r\n")
    if receipt:
        extra += (f"Return-Path: <{sender}>\r\n" if return_path else "") + (
            f"Disposition-Notification-To: {sender}\r\n")
    boundary = "=_xdm_boundary_42"
    head = (f"From: Cardiologie HEGP <{sender}>\r\nTo: {BOT}\r\n"
            f"Subject: {subject}\r\nDate: Thu, 03 Dec 2026 14:00:00 +0100\r\n"
            f"Message-ID: {mid}\r\n{extra}MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n')
    body = (f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "Madame, Monsieur,\r\nVeuillez trouver ci-joint le document.\r\n"
            f"--{boundary}\r\nContent-Type: application/zip; name=\"{attachment_name}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; filename=\"{attachment_name}\"\r\n\r\n"
            f"{_b64(data)}\r\n"
            f"--{boundary}\r\nContent-Type: application/pdf; name=\"lettre.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"lettre.pdf\"\r\n\r\n"
            f"{_b64(PDF)}\r\n--{boundary}--\r\n")
    return (head + body).encode()
