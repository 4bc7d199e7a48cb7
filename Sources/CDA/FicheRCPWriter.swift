import ConcertoCore
import Foundation

extension FicheRCPExport {
    static func documentIDPrefix(_ fiche: FicheRCPExport) -> String { OIDs.uuid(fiche.caseID) }

    /// The setId: one per fiche, the same for every version.
    public var setID: String { OIDs.uuid(caseID) }
    /// This version's id: derived from the fiche and the version, so exporting the same
    /// version twice gives the same document id.
    public var documentID: String { OIDs.uuid(caseID) + ".\(version)" }
}

/// OIDs used in the exported documents.
enum OIDs {
    static let loinc = "2.16.840.1.113883.6.1"
    static let taASIP = "1.2.250.1.213.1.1.4.322"
    static let snomed = "2.16.840.1.113883.6.96"
    static let icd10 = "2.16.840.1.113883.6.3"
    static let tnm = "2.16.840.1.113883.15.6"
    static let rpps = "1.2.250.1.71.4.2.1"
    static let finess = "1.2.250.1.71.4.2.2"
    /// National identifiers of a regional cancer network (RRC), a board's managing
    /// structure and a board (RCP) in the fiche's header (CI-SIS FRCP).
    static let regionalCancerNetwork = "1.2.250.1.161.1.20.1.1"
    static let boardManager = "1.2.250.1.161.1.20.2.1"
    static let board = "1.2.250.1.161.1.20.3.1"
    static let specialties = "1.2.250.1.213.1.1.4.5"
    static let gender = "2.16.840.1.113883.5.1"
    static let simpleObservation = ["1.3.6.1.4.1.19376.1.5.3.1.4.13", "1.2.250.1.213.1.1.3.48"]
    static let comment = ["2.16.840.1.113883.10.20.1.40", "1.3.6.1.4.1.19376.1.5.3.1.4.2", "1.2.250.1.213.1.1.3.32"]

    /// A UUID as an OID under 2.25 (ISO/IEC 9834-8): its 128 bits as one decimal number.
    static func uuid(_ id: UUID) -> String {
        let bytes = withUnsafeBytes(of: id.uuid) { Array($0) }
        // 128-bit to decimal by repeated division of a big-endian byte array.
        var number = bytes
        var digits: [UInt8] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for index in number.indices {
                let value = remainder * 256 + Int(number[index])
                number[index] = UInt8(value / 10)
                remainder = value % 10
            }
            digits.append(UInt8(remainder))
        }
        return "2.25." + (digits.isEmpty ? "0" : String(digits.reversed().map { Character(String($0)) }))
    }
}

/// Writes a fiche RCP as a CDA R2 document following the CI-SIS FRCP 2022.01 model: header
/// (templateIds, LOINC 34794-8, patient with the INS only when the identity is qualified,
/// author, custodian, participants with the model's roles, service events, the meeting as
/// encompassing encounter) and the body sections in the model's order and codes.
public enum FicheRCPWriter {
    public static let templateID = "1.2.250.1.213.1.1.1.8"
    public static let templateVersion = "2022.01"

    public static func write(_ fiche: FicheRCPExport) -> Data {
        var xml = XMLWriter()
        xml.element("ClinicalDocument", [
            "xmlns": "urn:hl7-org:v3", "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
        ]) { xml in
            header(fiche, &xml)
            xml.element("component") { xml in
                xml.element("structuredBody") { xml in
                    body(fiche, &xml)
                }
            }
        }
        return xml.data
    }

    // MARK: Header

    static func time(_ date: Date) -> String { HL7Time.format(date) }

    static func header(_ fiche: FicheRCPExport, _ xml: inout XMLWriter) {
        xml.empty("realmCode", ["code": "FR"])
        xml.empty("typeId", ["root": "2.16.840.1.113883.1.3", "extension": "POCD_HD000040"])
        xml.empty("templateId", ["root": "2.16.840.1.113883.2.8.2.1"])
        xml.empty("templateId", ["root": "1.2.250.1.213.1.1.1.1"])
        xml.empty("templateId", ["root": templateID, "extension": templateVersion])
        xml.empty("id", ["root": fiche.documentID])
        xml.empty("code", ["code": CDADocument.ficheRCPCode, "codeSystem": OIDs.loinc, "codeSystemName": "LOINC",
                           "displayName": "CR de réunion de concertation pluridisciplinaire"])
        xml.text("title", "Fiche RCP — " + (fiche.meeting.map { "\($0.communityName) / \($0.title)" } ?? "Concerto"))
        xml.empty("effectiveTime", ["value": time(fiche.generatedAt)])
        xml.empty("confidentialityCode", ["code": "N", "codeSystem": "2.16.840.1.113883.5.25", "displayName": "Normal"])
        xml.empty("languageCode", ["code": "fr-FR"])
        xml.empty("setId", ["root": fiche.setID])
        xml.empty("versionNumber", ["value": String(fiche.version)])
        recordTarget(fiche, &xml)
        xml.element("author") { xml in
            xml.empty("time", ["value": time(fiche.validatedAt ?? fiche.generatedAt)])
            assignedPerson("assignedAuthor", personTag: "assignedPerson", organisationTag: "representedOrganization", fiche.author, &xml)
        }
        xml.element("custodian") { xml in
            xml.element("assignedCustodian") { xml in
                xml.element("representedCustodianOrganization") { xml in
                    organisationContent(fiche.custodian, &xml)
                }
            }
        }
        if let authenticator = fiche.legalAuthenticator {
            xml.element("legalAuthenticator") { xml in
                xml.empty("time", ["value": time(fiche.validatedAt ?? fiche.generatedAt)])
                xml.empty("signatureCode", ["code": "S"])
                assignedPerson("assignedEntity", personTag: "assignedPerson", organisationTag: "representedOrganization", authenticator, &xml)
            }
        }
        for participant in fiche.participants {
            participantElement(participant, &xml)
        }
        xml.element("documentationOf") { xml in
            xml.element("serviceEvent", ["classCode": "ACT"]) { xml in
                xml.element("code", ["code": "39", "displayName": "Réunion de Concertation Pluridisciplinaire (RCP)",
                                     "codeSystem": "1.2.250.1.213.3.3.13", "codeSystemName": "TRE_R213-ModePriseEnCharge"]) { xml in
                    xml.text("originalText", fiche.meeting.map { "\($0.communityName) / \($0.title)" })
                }
                if let meeting = fiche.meeting {
                    xml.element("effectiveTime") { xml in xml.empty("low", ["value": time(meeting.startsAt)]) }
                }
            }
        }
        if let site = fiche.content.tumourSiteCode {
            xml.element("documentationOf") { xml in
                xml.element("serviceEvent", ["classCode": "ACT"]) { xml in
                    xml.empty("code", ["code": site, "displayName": Terminology.tumourSites.concept(site)?.label, "codeSystem": OIDs.icd10,
                                       "codeSystemName": "CIM-10"])
                }
            }
        }
        if let meeting = fiche.meeting {
            xml.element("componentOf") { xml in
                xml.element("encompassingEncounter") { xml in
                    // The regional cancer network, the structure that manages the board, the
                    // board itself (national directories), then this séance (ours).
                    if let registration = meeting.registration {
                        xml.empty("id", ["root": OIDs.regionalCancerNetwork, "extension": registration.networkID])
                        if let finess = registration.manager.finess {
                            xml.empty("id", ["root": OIDs.boardManager, "extension": finess])
                        }
                        xml.empty("id", ["root": OIDs.board, "extension": registration.boardID])
                    }
                    xml.empty("id", ["root": OIDs.uuid(meeting.id)])
                    xml.empty("code", ["code": "VR", "displayName": "Virtuelle (RCP en l'absence du patient)", "codeSystem": "2.16.840.1.113883.5.4"])
                    xml.element("effectiveTime") { xml in xml.empty("low", ["value": time(meeting.startsAt)]) }
                    let facility = meeting.registration?.manager ?? fiche.custodian
                    xml.element("location") { xml in
                        xml.element("healthCareFacility") { xml in
                            if let finess = facility.finess { xml.empty("id", ["root": OIDs.finess, "extension": finess]) }
                            xml.element("location") { xml in
                                xml.text("name", facility.name)
                                if let address = facility.address {
                                    xml.element("addr") { xml in
                                        xml.text("streetAddressLine", address.street)
                                        xml.text("postalCode", address.postalCode)
                                        xml.text("city", address.city)
                                    }
                                } else {
                                    xml.empty("addr", ["nullFlavor": "NAV"])
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static func recordTarget(_ fiche: FicheRCPExport, _ xml: inout XMLWriter) {
        let identity = fiche.patient
        xml.element("recordTarget") { xml in
            xml.element("patientRole") { xml in
                // The INS is an identifier only once the identity is qualified; otherwise traits and IPPs.
                if identity.status == .qualified, let ins = identity.ins {
                    xml.empty("id", ["root": ins.oid, "extension": ins.matricule])
                }
                for local in fiche.localIDs {
                    xml.empty("id", ["root": OIDs.finess, "extension": "\(local.finess)/\(local.ipp)", "assigningAuthorityName": "IPP"])
                }
                xml.empty("id", ["root": OIDs.uuid(fiche.patientID), "assigningAuthorityName": "Concerto"])
                xml.element("patient", ["classCode": "PSN"]) { xml in
                    xml.element("name") { xml in
                        xml.text("family", identity.birthName, ["qualifier": "BR"])
                        xml.text("given", identity.firstNames)
                        xml.text("given", identity.firstName, ["qualifier": "BR"])
                        if let used = identity.usedName { xml.text("family", used, ["qualifier": "CL"]) }
                        if let usedFirst = identity.usedFirstName { xml.text("given", usedFirst, ["qualifier": "CL"]) }
                    }
                    let sex: (String, String) = switch identity.sex {
                    case .female: ("F", "Féminin")
                    case .male: ("M", "Masculin")
                    case .undetermined: ("U", "Inconnu")
                    }
                    xml.empty("administrativeGenderCode", ["code": sex.0, "displayName": sex.1, "codeSystem": OIDs.gender])
                    xml.empty("birthTime", ["value": identity.birthDate.iso.replacingOccurrences(of: "-", with: "")])
                    if let place = identity.birthPlaceCode {
                        xml.element("birthplace") { xml in
                            xml.element("place") { xml in
                                xml.element("addr") { xml in xml.text("county", place) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// A person's name for the CDA `name`: a leading "Dr" becomes the suffix DR, the last
    /// word the family name, the rest the given names.
    static func nameElement(_ displayName: String, _ xml: inout XMLWriter) {
        var words = displayName.split(separator: " ").map(String.init)
        var doctor = false
        if let first = words.first, ["dr", "dr.", "docteur", "pr", "pr."].contains(first.lowercased()) {
            doctor = true
            words.removeFirst()
        }
        xml.element("name") { xml in
            if words.count > 1 { xml.text("given", words.dropLast().joined(separator: " ")) }
            xml.text("family", words.last ?? displayName)
            if doctor { xml.text("suffix", "DR") }
        }
    }

    static func organisationContent(_ organisation: FicheRCPExport.Organisation, _ xml: inout XMLWriter) {
        if let finess = organisation.finess {
            xml.empty("id", ["root": OIDs.finess, "extension": finess])
        } else {
            xml.empty("id", ["nullFlavor": "UNK"])
        }
        xml.text("name", organisation.name)
    }

    static func assignedPerson(_ tag: String, personTag: String, organisationTag: String, _ person: FicheRCPExport.Person, _ xml: inout XMLWriter,
                               classCode: String? = nil) {
        xml.element(tag, ["classCode": classCode]) { xml in
            if let rpps = person.rpps {
                xml.empty("id", ["root": OIDs.rpps, "extension": rpps])
            } else if classCode == nil {
                xml.empty("id", ["nullFlavor": "UNK"])
            }
            if let code = person.specialtyCode {
                xml.empty("code", ["code": code, "codeSystem": OIDs.specialties, "displayName": person.specialtyLabel])
            }
            xml.element(personTag) { xml in nameElement(person.displayName, &xml) }
            if let organisation = person.organisation {
                xml.element(organisationTag) { xml in organisationContent(organisation, &xml) }
            }
        }
    }

    static func participantElement(_ participant: FicheRCPExport.Participant, _ xml: inout XMLWriter) {
        let (typeCode, function): (String, (code: String?, system: String?, display: String?, text: String)) = switch participant.role {
        case .coordinator: ("RESP", (nil, nil, nil, "PS Coordonnateur de la RCP"))
        case .presenter: ("PRF", (nil, nil, nil, "PS Présentateur"))
        case .quorumMember: ("PRF", ("353", "1.2.250.1.213.1.6.1.107", "Membre de l'équipe de soins", "Participant du quorum"))
        case .otherParticipant: ("PRF", ("CORRE", "1.2.250.1.213.1.1.4.2.280", "Correspondant", "Participant hors quorum"))
        }
        xml.element("participant", ["typeCode": typeCode]) { xml in
            xml.element("functionCode", ["code": function.code, "displayName": function.display, "codeSystem": function.system,
                                         "nullFlavor": function.code == nil ? "NA" : nil]) { xml in
                xml.text("originalText", function.text)
            }
            xml.empty("time", ["nullFlavor": "UNK"])
            assignedPerson("associatedEntity", personTag: "associatedPerson", organisationTag: "scopingOrganization", participant.person, &xml,
                           classCode: "PROV")
        }
    }

    // MARK: Body

    /// One section: templateIds, code, title, the narrative, then its entries.
    static func section(_ xml: inout XMLWriter, templates: [String], code: String, display: String, title: String,
                        narrative: (inout XMLWriter) -> Void, entries: (inout XMLWriter) -> Void = { _ in }) {
        xml.element("component") { xml in
            xml.element("section") { xml in
                for template in templates { xml.empty("templateId", ["root": template]) }
                xml.empty("code", ["code": code, "displayName": display, "codeSystem": OIDs.loinc, "codeSystemName": "LOINC"])
                xml.text("title", title)
                xml.element("text") { xml in narrative(&xml) }
                entries(&xml)
            }
        }
    }

    /// A two-column table of label / value rows; rows without a value are left out.
    static func table(_ rows: [(String, String?)], _ xml: inout XMLWriter) {
        let present = rows.compactMap { row in row.1.map { (row.0, $0) } }
        guard !present.isEmpty else {
            xml.text("paragraph", "Non renseigné.")
            return
        }
        xml.element("table", ["border": "0"]) { xml in
            xml.element("tbody") { xml in
                for (label, value) in present {
                    xml.element("tr") { xml in
                        xml.text("td", label)
                        xml.inline("td") { $0.lines(value) }
                    }
                }
            }
        }
    }

    static func paragraphs(_ text: String?, _ xml: inout XMLWriter) {
        guard let text, !text.isEmpty else {
            xml.text("paragraph", "Non renseigné.")
            return
        }
        for block in text.components(separatedBy: "\n\n") {
            xml.inline("paragraph") { $0.lines(block) }
        }
    }

    static func codedObservation(_ xml: inout XMLWriter, code: String, system: String = OIDs.taASIP, display: String,
                                 templates: [String] = OIDs.simpleObservation, relationship: String? = nil, value: (inout XMLWriter) -> Void) {
        let body: (inout XMLWriter) -> Void = { xml in
            xml.element("observation", ["classCode": "OBS", "moodCode": "EVN"]) { xml in
                for template in templates { xml.empty("templateId", ["root": template]) }
                xml.empty("code", ["code": code, "displayName": display, "codeSystem": system])
                xml.empty("statusCode", ["code": "completed"])
                value(&xml)
            }
        }
        if let relationship {
            xml.element("entryRelationship", ["typeCode": relationship], body)
        } else {
            xml.element("entry", [:], body)
        }
    }

    /// A TNM stage (clinical or pathological) with its edition and one observation per
    /// axis; an axis the fiche does not give is sent as unknown.
    static func tnmStage(_ xml: inout XMLWriter, code: String, display: String, edition: Int?, axes: [(code: String, display: String, value: String?)]) {
        xml.element("entryRelationship", ["typeCode": "SUBJ", "inversionInd": "false"]) { xml in
            xml.element("observation", ["classCode": "OBS", "moodCode": "EVN", "negationInd": "false"]) { xml in
                xml.empty("templateId", ["root": "1.3.6.1.4.1.19376.1.7.3.1.4.14.2"])
                xml.empty("code", ["code": code, "displayName": display, "codeSystem": OIDs.loinc, "codeSystemName": "LOINC"])
                xml.empty("statusCode", ["code": "completed"])
                xml.empty("effectiveTime", ["nullFlavor": "UNK"])
                if let edition {
                    xml.element("value", ["xsi:type": "CD"]) { xml in
                        xml.element("qualifier") { xml in
                            xml.empty("name", ["code": "21917-0", "displayName": "Version TNM Classification", "codeSystem": OIDs.loinc, "codeSystemName": "LOINC"])
                            xml.empty("value", ["xsi:type": "CD", "code": String(edition), "displayName": "TNM_UICC \(edition)e édition", "codeSystem": OIDs.tnm,
                                                "codeSystemName": "TNM_UICC"])
                        }
                    }
                } else {
                    xml.empty("value", ["xsi:type": "CD", "nullFlavor": "UNK"])
                }
                for axis in axes {
                    xml.element("entryRelationship", ["typeCode": "COMP"]) { xml in
                        xml.element("observation", ["classCode": "OBS", "moodCode": "EVN"]) { xml in
                            for template in OIDs.simpleObservation { xml.empty("templateId", ["root": template]) }
                            xml.empty("code", ["code": axis.code, "displayName": axis.display, "codeSystem": OIDs.loinc, "codeSystemName": "LOINC"])
                            xml.empty("statusCode", ["code": "completed"])
                            xml.empty("effectiveTime", ["nullFlavor": "NA"])
                            if let value = axis.value {
                                xml.empty("value", ["xsi:type": "CD", "code": value, "codeSystem": OIDs.tnm, "codeSystemName": "TNM_UICC",
                                                    "codeSystemVersion": edition.map(String.init)])
                            } else {
                                xml.empty("value", ["xsi:type": "CD", "nullFlavor": "UNK"])
                            }
                        }
                    }
                }
            }
        }
    }

    static func cd(_ code: String?, _ system: String, _ display: String?, _ xml: inout XMLWriter, name: String = "value") {
        if let code {
            xml.empty(name, ["xsi:type": "CD", "code": code, "displayName": display, "codeSystem": system])
        } else {
            xml.empty(name, ["xsi:type": "CD", "nullFlavor": "NA"])
        }
    }

    static func bool(_ value: Bool, _ xml: inout XMLWriter) {
        xml.empty("value", ["xsi:type": "BL", "value": value ? "true" : "false"])
    }

    static func body(_ fiche: FicheRCPExport, _ xml: inout XMLWriter) {
        let content = fiche.content
        let decision = fiche.decision
        let nature = fiche.meeting.map { $0.transversal ? "ORG-132" : "ORG-117" }
        section(&xml, templates: ["1.3.6.1.4.1.19376.1.5.3.1.3.1", "1.3.6.1.4.1.19376.1.5.3.1.3.2", "1.2.250.1.213.1.1.2.128"],
                code: "42349-1", display: "Raison de la recommandation", title: "TYPE DE RCP / MOTIF DE LA RCP", narrative: { xml in
            table([("Nature de la discussion", nature.flatMap { Terminology.boardNatures.concept($0)?.label }),
                   ("RCP", fiche.meeting.map { "\($0.communityName) — \($0.title)" }),
                   ("Motif de la présentation", content.presentationReason?.frenchLabel)], &xml)
        }, entries: { xml in
            codedObservation(&xml, code: "GEN-098", display: "Nature de la discussion") { xml in
                cd(nature, OIDs.taASIP, nature.flatMap { Terminology.boardNatures.concept($0)?.label }, &xml)
                codedObservation(&xml, code: "ORG-127", display: "Statut du cas présenté", relationship: "SUBJ") { xml in
                    cd(decision == nil ? "ORG-128" : "ORG-134", OIDs.taASIP, decision == nil ? "Cas enregistré" : "Cas discuté", &xml)
                }
            }
        })
        section(&xml, templates: ["1.3.6.1.4.1.19376.1.5.3.1.1.21.2.9", "1.3.6.1.4.1.19376.1.7.3.1.1.13.7", "1.2.250.1.213.1.1.2.163"],
                code: "42545-4", display: "Evènements observés", title: "MODE DE DÉCOUVERTE DU CANCER", narrative: { xml in
            table([("Circonstances de découverte", content.discoveryMode?.frenchLabel)], &xml)
        }, entries: { xml in
            if let mode = content.discoveryMode {
                codedObservation(&xml, code: "63921-1", system: OIDs.loinc, display: "Dépistage du cancer") { xml in bool(mode == .screening, &xml) }
            }
        })
        let tnm = content.tnm
        section(&xml, templates: ["2.16.840.1.113883.10.20.1.11", "1.3.6.1.4.1.19376.1.5.3.1.3.6", "1.3.6.1.4.1.19376.1.7.3.1.3.14.1", "1.2.250.1.213.1.1.2.27"],
                code: "72135-7", display: "Diagnostic du cancer", title: "TUMEUR", narrative: { xml in
            table([("Localisation (CIM-10)", content.tumourSiteCode.map { "\($0) — \(Terminology.tumourSites.concept($0)?.label ?? "")" }),
                   ("Histologie", content.morphology),
                   ("Latéralité", content.lateralityCode.flatMap { Terminology.lateralities.concept($0)?.label }),
                   ("TNM", tnm.summary.isEmpty ? nil : tnm.summary + (tnm.edition.map { " (édition \($0))" } ?? ""))], &xml)
        }, entries: { xml in
            // Always present (the FRCP model requires the diagnosis and the clinical TNM with
            // its T, N and M): what the fiche does not say is sent as unknown (nullFlavor UNK).
            xml.element("entry") { xml in
                xml.element("act", ["classCode": "ACT", "moodCode": "EVN"]) { xml in
                    for template in ["2.16.840.1.113883.10.20.1.27", "1.3.6.1.4.1.19376.1.5.3.1.4.5.1", "1.3.6.1.4.1.19376.1.5.3.1.4.5.2",
                                     "1.2.250.1.213.1.1.3.39", "1.2.250.1.213.1.1.3.39.1"] {
                        xml.empty("templateId", ["root": template])
                    }
                    xml.empty("id", ["root": OIDs.uuid(fiche.caseID) + ".1"])
                    xml.empty("code", ["nullFlavor": "NA"])
                    xml.empty("statusCode", ["code": "active"])
                    codedObservation(&xml, code: "282291009", system: OIDs.snomed, display: "interprétation diagnostique",
                                     templates: ["2.16.840.1.113883.10.20.1.28", "1.3.6.1.4.1.19376.1.5.3.1.4.5", "1.2.250.1.213.1.1.3.37"],
                                     relationship: "SUBJ") { xml in
                        xml.element("value", ["xsi:type": "CD", "nullFlavor": "OTH"]) { xml in xml.text("originalText", content.morphology ?? "Non précisée") }
                        if let site = content.tumourSiteCode {
                            xml.element("targetSiteCode", ["code": site, "displayName": Terminology.tumourSites.concept(site)?.label, "codeSystem": OIDs.icd10,
                                                           "codeSystemName": "CIM-10"]) { xml in
                                if let laterality = content.lateralityCode {
                                    xml.element("qualifier") { xml in
                                        xml.empty("name", ["code": "20228-3", "displayName": "Latéralité", "codeSystem": OIDs.loinc, "codeSystemName": "LOINC"])
                                        cd(laterality, OIDs.snomed, Terminology.lateralities.concept(laterality)?.label, &xml)
                                    }
                                }
                            }
                        }
                        tnmStage(&xml, code: "75620-5", display: "Stade TNM Clinique", edition: tnm.edition,
                                 axes: [("21905-5", "TNM Clinique T", tnm.cT), ("21906-3", "TNM Clinique N", tnm.cN), ("21907-1", "TNM Clinique M", tnm.cM)])
                        if tnm.pT != nil || tnm.pN != nil {
                            tnmStage(&xml, code: "21902-2", display: "Stade TNM pathologique", edition: tnm.edition,
                                     axes: [("21899-0", "TNM Pathologique T", tnm.pT), ("21900-6", "TNM Pathologique N", tnm.pN)])
                        }
                    }
                }
            }
        })
        section(&xml, templates: ["1.2.250.1.213.1.1.2.2"], code: "11348-0", display: "Antécédents médicaux", title: "ANTÉCÉDENTS ET COMORBIDITÉS",
                narrative: { xml in table([("Antécédents", content.history), ("Comorbidités", content.comorbidities)], &xml) })
        section(&xml, templates: ["1.3.6.1.4.1.19376.1.5.3.1.1.13.2.7", "1.2.250.1.213.1.1.2.25"], code: "18733-6", display: "Note de progression",
                title: "PHASE CLINIQUE DE LA MALADIE", narrative: { xml in
            table([("Phase", content.phaseCode.flatMap { Terminology.cancerPhases.concept($0)?.label }),
                   ("État général (OMS)", content.performanceStatusCode.flatMap { Terminology.performanceStatuses.concept($0)?.label })], &xml)
        }, entries: { xml in
            if let phase = content.phaseCode {
                codedObservation(&xml, code: "MED-243", display: "Phase du cancer") { xml in
                    cd(phase, OIDs.taASIP, Terminology.cancerPhases.concept(phase)?.label, &xml)
                }
            }
        })
        section(&xml, templates: ["1.3.6.1.4.1.19376.1.5.3.1.1.13.2.11", "1.2.250.1.213.1.1.2.118"], code: "29554-3", display: "Actes",
                title: "TRAITEMENTS ANTÉRIEURS", narrative: { xml in paragraphs(content.previousTreatments, &xml) })
        section(&xml, templates: ["1.3.6.1.4.1.19376.1.5.3.1.3.4", "1.2.250.1.213.1.1.2.130"], code: "10164-2", display: "Histoire de la maladie",
                title: "SYNTHÈSE DU CAS PRÉSENTÉ ET QUESTION POSÉE À LA RCP", narrative: { xml in
            xml.text("paragraph", "Synthèse")
            paragraphs(content.summary, &xml)
            xml.text("paragraph", "Question posée")
            paragraphs(content.question, &xml)
        })
        let quorumCode = decision.map { $0.quorumMet ? "ORG-126" : "ORG-133" }
        section(&xml, templates: ["1.2.250.1.213.1.1.2.33"], code: "21874-3", display: "Statut du dossier présenté en RCP", title: "PROPOSITION DE LA RCP",
                narrative: { xml in
            table([("Dossier complet", decision.map { $0.fileComplete ? "Oui" : "Non" }),
                   ("Quorum", quorumCode.flatMap { Terminology.quorumStatuses.concept($0)?.label }
                       .map { $0 + ((decision?.recordedWithoutQuorum ?? false) ? " (décision enregistrée sans quorum)" : "") })], &xml)
        }, entries: { xml in
            guard let decision, let quorumCode else { return }
            xml.element("entry") { xml in
                xml.element("organizer", ["classCode": "CLUSTER", "moodCode": "EVN"]) { xml in
                    xml.empty("templateId", ["root": "1.2.250.1.213.1.1.3.7"])
                    xml.empty("code", ["code": "GEN-099", "displayName": "Information RCP", "codeSystem": OIDs.taASIP])
                    xml.empty("statusCode", ["code": "completed"])
                    xml.element("component") { xml in
                        xml.element("observation", ["classCode": "OBS", "moodCode": "EVN"]) { xml in
                            for template in OIDs.simpleObservation { xml.empty("templateId", ["root": template]) }
                            xml.empty("code", ["code": "GEN-100", "displayName": "Dossier complet", "codeSystem": OIDs.taASIP])
                            xml.empty("statusCode", ["code": "completed"])
                            bool(decision.fileComplete, &xml)
                        }
                    }
                    xml.element("component") { xml in
                        xml.element("observation", ["classCode": "OBS", "moodCode": "EVN"]) { xml in
                            for template in OIDs.simpleObservation { xml.empty("templateId", ["root": template]) }
                            xml.empty("code", ["code": "ORG-125", "displayName": "Quorum RCP", "codeSystem": OIDs.taASIP])
                            xml.empty("statusCode", ["code": "completed"])
                            cd(quorumCode, OIDs.taASIP, Terminology.quorumStatuses.concept(quorumCode)?.label, &xml)
                        }
                    }
                }
            }
        })
        section(&xml, templates: ["2.16.840.1.113883.10.20.1.10", "1.3.6.1.4.1.19376.1.5.3.1.3.36", "1.2.250.1.213.1.1.2.158"], code: "18776-5",
                display: "Plan de soins", title: "PLAN DE SOINS", narrative: { xml in
            if let decision {
                xml.text("paragraph", decision.proposalTypes.map(\.frenchLabel).joined(separator: ", "))
                paragraphs(decision.proposal, &xml)
            } else {
                xml.text("paragraph", "Pas encore de proposition.")
            }
        }, entries: { xml in
            for type in decision?.proposalTypes ?? [] {
                guard let code = type.treatmentTypeCode, let concept = Terminology.treatmentTypes.concept(code) else { continue }
                xml.element("entry") { xml in
                    xml.element("procedure", ["classCode": "PROC", "moodCode": "INT"]) { xml in
                        for template in ["2.16.840.1.113883.10.20.1.25", "1.3.6.1.4.1.19376.1.5.3.1.4.19", "1.2.250.1.213.1.1.3.62"] {
                            xml.empty("templateId", ["root": template])
                        }
                        xml.empty("code", ["code": code, "displayName": concept.label, "codeSystem": concept.codeSystem])
                        xml.empty("statusCode", ["code": "active"])
                    }
                }
            }
        })
        section(&xml, templates: ["1.2.250.1.213.1.1.2.175"], code: "35510-7", display: "Essais cliniques - Informations générales",
                title: "CADRE DE LA PROPOSITION THÉRAPEUTIQUE", narrative: { xml in
            table([("Conforme au référentiel", decision.map { $0.followsGuidelines ? "Oui" : "Non" }),
                   ("Motif de non-conformité", decision?.guidelinesDeviationReason),
                   ("Essai clinique proposé", decision.map { $0.trialProposed ? "Oui" : "Non" }),
                   ("Référence de l'essai", decision?.trialReference)], &xml)
        }, entries: { xml in
            guard let decision else { return }
            codedObservation(&xml, code: "MED-249", display: "Recommandation/référentiel de pratique clinique") { xml in
                bool(decision.followsGuidelines, &xml)
            }
            codedObservation(&xml, code: "MED-250", display: "Proposition d'inclusion dans un essai clinique") { xml in
                bool(decision.trialProposed, &xml)
            }
        })
        let validated = fiche.validatedAt != nil
        section(&xml, templates: ["1.2.250.1.213.1.1.2.35"], code: "33557-0", display: "Etat d'achèvement", title: "Statut du document",
                narrative: { xml in
            xml.text("paragraph", validated ? "Fiche validée" + (fiche.validatedAt.map { " le " + ParisCalendar.date(of: $0).french } ?? "") : "Fiche en cours")
        }, entries: { xml in
            codedObservation(&xml, code: "GEN-065", display: "Statut du document",
                             templates: OIDs.simpleObservation + ["1.2.250.1.213.1.1.3.48.16"]) { xml in
                cd(validated ? "9571008" : "385651009", OIDs.snomed, validated ? "approuvé" : "en cours d'exécution", &xml)
            }
        })
        if let pdf = fiche.pdf {
            xml.element("component") { xml in
                xml.element("section") { xml in
                    xml.empty("templateId", ["root": "1.2.250.1.213.1.1.2.243"])
                    xml.empty("code", ["code": "55108-5", "displayName": "Copie PDF du document", "codeSystem": OIDs.loinc])
                    xml.text("title", "Copie PDF du document")
                    xml.element("text") { xml in xml.text("paragraph", "Copie PDF de la fiche RCP.") }
                    xml.element("entry") { xml in
                        xml.element("observationMedia", ["classCode": "OBS", "moodCode": "EVN"]) { xml in
                            xml.empty("templateId", ["root": "1.3.6.1.4.1.19376.1.4.1.4.7"])
                            xml.text("value", pdf.base64EncodedString(), ["mediaType": "application/pdf", "representation": "B64"])
                        }
                    }
                }
            }
        }
    }
}
