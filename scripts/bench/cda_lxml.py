#!/usr/bin/env python3
"""The CDA extraction Concerto's Swift reader does, written with Python lxml, to put the
Swift figure (concerto-bench cda) next to the usual tool. Same work per document: safe
parse (no network, no DTD, no entity substitution), header, patient with INS kind,
authors, custodian, service events, orders, section tree with the narrative turned into
allow-listed HTML, entries (TNM, quorum, file complete, DICOM catalog, embedded PDF),
base64 bodies decoded.

Usage: scripts/bench/cda_lxml.py [CORPUS_DIR] [SECONDS]   (run it with taskset -c 0)
"""
import base64
import html
import os
import sys
import time
from urllib.parse import urlparse

from lxml import etree

V3 = "urn:hl7-org:v3"
N = "{%s}" % V3
INS_KINDS = {"1.2.250.1.213.1.4.8": "NIR", "1.2.250.1.213.1.4.9": "NIA",
             "1.2.250.1.213.1.4.10": "NIR-test", "1.2.250.1.213.1.4.11": "NIR-demo"}
TNM = {"21905-5": "cT", "21906-3": "cN", "21907-1": "cM", "21899-0": "pT", "21900-6": "pN", "21901-4": "pM"}
STYLES = {"Bold": "cda-bold", "Italics": "cda-italics", "Underline": "cda-underline", "Emphasis": "cda-emphasis",
          "Lrule": "cda-lrule", "Rrule": "cda-rrule", "Toprule": "cda-toprule", "Botrule": "cda-botrule",
          "xcellHighlight": "cda-highlight"}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True, strip_cdata=True)


def iso(value):
    if not value:
        return None
    value = value.strip()
    offset = ""
    for sign in "+-":
        if sign in value[4:]:
            value, tail = value.split(sign, 1)
            offset = sign + tail[:2] + ":" + tail[2:4]
    out = value[:4]
    if len(value) >= 6: out += "-" + value[4:6]
    if len(value) >= 8: out += "-" + value[6:8]
    if len(value) >= 10: out += "T" + value[8:10]
    if len(value) >= 12: out += ":" + value[10:12]
    if len(value) >= 14: out += ":" + value[12:]
    return out + offset if len(value) >= 10 else out


def ident(node):
    return None if node is None else (node.get("root"), node.get("extension"))


def coded(node):
    return None if node is None else (node.get("code"), node.get("codeSystem"), node.get("displayName"))


def norm(text):
    return " ".join(text.split())


def narrative(node, out, in_table=False):
    if node.text:
        out.append(html.escape(node.text, quote=False))
    for child in node:
        if isinstance(child.tag, str):
            element(child, out, in_table)
        if child.tail:
            out.append(html.escape(child.tail, quote=False))


def wrap(tag, node, out, in_table):
    out.append("<%s>" % tag)
    narrative(node, out, in_table)
    out.append("</%s>" % tag)


def element(node, out, in_table):
    tag = node.tag
    if not tag.startswith(N):
        return narrative(node, out, in_table)
    name = tag[len(N):]
    if name == "paragraph": wrap("p", node, out, in_table)
    elif name == "list": wrap("ol" if node.get("listType") == "ordered" else "ul", node, out, in_table)
    elif name == "item": wrap("li", node, out, in_table)
    elif name == "table": wrap("table", node, out, True)
    elif name in ("thead", "tbody", "tfoot", "tr", "colgroup"):
        wrap(name, node, out, True) if in_table else narrative(node, out, False)
    elif name in ("th", "td"):
        if not in_table:
            return narrative(node, out, False)
        attrs = ""
        for span in ("colspan", "rowspan"):
            value = node.get(span)
            if value and value.isdigit() and 1 <= int(value) <= 1000:
                attrs += ' %s="%d"' % (span, int(value))
        out.append("<%s%s>" % (name, attrs))
        narrative(node, out, True)
        out.append("</%s>" % name)
    elif name == "col":
        if in_table: out.append("<col>")
    elif name == "caption": wrap("caption" if in_table else "strong", node, out, in_table)
    elif name == "br": out.append("<br>")
    elif name in ("sub", "sup"): wrap(name, node, out, in_table)
    elif name == "content":
        classes = [STYLES[s] for s in (node.get("styleCode") or "").split() if s in STYLES]
        if classes:
            out.append('<span class="%s">' % " ".join(classes))
            narrative(node, out, in_table)
            out.append("</span>")
        else:
            narrative(node, out, in_table)
    elif name == "linkHtml":
        href = (node.get("href") or "").strip().replace(" ", "%20")
        parsed = urlparse(href)
        if parsed.scheme.lower() in ("http", "https") and parsed.netloc:
            out.append('<a href="%s" rel="noopener noreferrer nofollow" target="_blank">' % html.escape(href))
            narrative(node, out, in_table)
            out.append("</a>")
        else:
            narrative(node, out, in_table)
    elif name == "renderMultiMedia":
        ref = node.get("referencedObject")
        out.append('<span class="cda-media">[%s]</span>' % (("Média " + ref) if ref else "Média"))
    elif name == "footnote":
        out.append('<small class="cda-footnote">')
        narrative(node, out, in_table)
        out.append("</small>")
    else:
        narrative(node, out, in_table)


def person(assigned):
    result = {"id": ident(assigned.find(N + "id")), "specialty": coded(assigned.find(N + "code"))}
    name = assigned.find(N + "assignedPerson/" + N + "name")
    if name is not None:
        family = name.find(N + "family")
        result["family"] = norm(family.text or "") if family is not None else None
        result["given"] = " ".join(norm(g.text or "") for g in name.findall(N + "given"))
    org = assigned.find(N + "representedOrganization")
    if org is not None:
        org_name = org.find(N + "name")
        result["organisation"] = (ident(org.find(N + "id")), norm(org_name.text or "") if org_name is not None else None)
    return result


class Extraction:
    def __init__(self):
        self.tnm = {}
        self.quorum = None
        self.file_complete = None
        self.catalog = []
        self.pdfs = []

    def scan(self, node):
        for obs in node.iter(N + "observation"):
            code = obs.find(N + "code")
            code = code.get("code") if code is not None else None
            value = obs.find(N + "value")
            if code in TNM and value is not None:
                self.tnm.setdefault(TNM[code], value.get("code") or norm("".join(value.itertext())))
            elif code == "ORG-125" and value is not None:
                self.quorum = self.quorum or value.get("code")
            elif code == "GEN-100" and value is not None:
                self.file_complete = value.get("value") == "true"

    def section(self, node):
        result = {"templates": [], "sub": []}
        catalog = pdf_copy = False
        for child in node:
            tag = child.tag
            if tag == N + "templateId":
                result["templates"].append(child.get("root"))
                pdf_copy = pdf_copy or child.get("root") == "1.2.250.1.213.1.1.2.243"
            elif tag == N + "code":
                result["code"] = coded(child)
                catalog = child.get("code") == "121181"
            elif tag == N + "title":
                result["title"] = norm("".join(child.itertext()))
            elif tag == N + "text":
                out = []
                narrative(child, out)
                result["html"] = "".join(out)
            elif tag == N + "component":
                nested = child.find(N + "section")
                if nested is not None:
                    result["sub"].append(self.section(nested))
            elif tag == N + "entry":
                if catalog:
                    for study in child.findall(N + "act"):
                        series = []
                        for rel in study.findall(N + "entryRelationship"):
                            act = rel.find(N + "act")
                            if act is not None:
                                series.append((act.find(N + "id").get("root"),
                                               [o.get("root") for o in act.iterfind(".//" + N + "observation/" + N + "id")]))
                        self.catalog.append((study.find(N + "id").get("root"), series))
                if pdf_copy:
                    for value in child.iter(N + "value"):
                        if value.get("representation") == "B64":
                            self.pdfs.append(base64.b64decode("".join(value.itertext())))
                self.scan(child)
        return result


def extract(data):
    root = etree.fromstring(data, PARSER)
    if root.tag != N + "ClinicalDocument":
        raise ValueError("not a CDA document")
    doc = {"templates": [], "authors": [], "events": [], "orders": []}
    ex = Extraction()
    for child in root:
        tag = child.tag
        if not isinstance(tag, str) or not tag.startswith(N):
            continue
        name = tag[len(N):]
        if name == "templateId": doc["templates"].append(child.get("root"))
        elif name == "id": doc["id"] = ident(child)
        elif name == "code": doc["type"] = coded(child)
        elif name == "title": doc["title"] = norm("".join(child.itertext()))
        elif name == "effectiveTime": doc["effectiveTime"] = iso(child.get("value"))
        elif name == "confidentialityCode": doc["confidentiality"] = coded(child)
        elif name == "languageCode": doc["language"] = child.get("code")
        elif name == "setId": doc["setId"] = ident(child)
        elif name == "versionNumber": doc["version"] = int(child.get("value"))
        elif name == "recordTarget" and "patient" not in doc:
            role = child.find(N + "patientRole")
            ids = [ident(i) for i in role.findall(N + "id")]
            patient = {"ids": ids, "ins": next(((i[1], INS_KINDS[i[0]]) for i in ids if i[0] in INS_KINDS), None), "given": []}
            person_node = role.find(N + "patient")
            for name_node in person_node.findall(N + "name"):
                for part in name_node:
                    qualifier = part.get("qualifier")
                    text = norm(part.text or "")
                    if part.tag == N + "family":
                        if qualifier == "BR" or (qualifier is None and "birthName" not in patient): patient["birthName"] = text
                        elif qualifier in ("CL", "SP"): patient.setdefault("usedName", text)
                    elif part.tag == N + "given" and qualifier != "CL" and text not in patient["given"]:
                        patient["given"].append(text)
            sex = person_node.find(N + "administrativeGenderCode")
            patient["sex"] = sex.get("code") if sex is not None else None
            birth = person_node.find(N + "birthTime")
            patient["birthDate"] = iso(birth.get("value")) if birth is not None else None
            doc["patient"] = patient
        elif name == "author":
            assigned = child.find(N + "assignedAuthor")
            if assigned is not None:
                doc["authors"].append(person(assigned))
        elif name == "custodian":
            org = child.find(N + "assignedCustodian/" + N + "representedCustodianOrganization")
            if org is not None:
                doc["custodian"] = (ident(org.find(N + "id")), norm("".join(org.find(N + "name").itertext())))
        elif name == "legalAuthenticator":
            assigned = child.find(N + "assignedEntity")
            if assigned is not None:
                doc["legalAuthenticator"] = person(assigned)
        elif name == "inFulfillmentOf":
            order = child.find(N + "order")
            if order is not None:
                doc["orders"].append([ident(i) for i in order if isinstance(i.tag, str)])
        elif name == "documentationOf":
            event = child.find(N + "serviceEvent")
            if event is not None:
                doc["events"].append(([ident(i) for i in event.findall(N + "id")], coded(event.find(N + "code"))))
        elif name == "component":
            body = child.find(N + "structuredBody")
            if body is not None:
                doc["sections"] = [ex.section(c.find(N + "section")) for c in body.findall(N + "component")
                                   if c.find(N + "section") is not None]
            else:
                text = child.find(N + "nonXMLBody/" + N + "text")
                if text is not None and text.get("representation") == "B64":
                    doc["nonXML"] = (text.get("mediaType"), base64.b64decode("".join(text.itertext())))
    doc["tnm"], doc["catalog"], doc["pdfs"] = ex.tnm, ex.catalog, ex.pdfs
    doc["outcome"] = (ex.quorum, ex.file_complete)
    return doc


def main():
    corpus = sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus/cda"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    files = sorted(os.path.join(corpus, f) for f in os.listdir(corpus) if f.endswith(".xml"))
    documents = [open(f, "rb").read() for f in files]
    total = sum(len(d) for d in documents)
    for d in documents:
        extract(d)
    passes = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for d in documents:
            extract(d)
        passes += 1
    elapsed = time.perf_counter() - started
    rate = total * passes / 1e6 / elapsed
    print("cda (Python %s, lxml %s): %d files, %.2f MB, %d passes in %.1f s: %.1f MB/s"
          % (sys.version.split()[0], etree.__version__, len(documents), total / 1e6, passes, elapsed, rate))


if __name__ == "__main__":
    main()
