import CLibXML2
import ConcertoCore
import Foundation

/// A problem found in a document: errors make it unusable, warnings are shown and kept.
public struct CDAIssue: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }
    public var severity: Severity
    public var message: String

    public static func error(_ message: String) -> Self { Self(severity: .error, message: message) }
    public static func warning(_ message: String) -> Self { Self(severity: .warning, message: message) }
    public var description: String { message }
}

/// What reading one file gives: the document when it could be read, and what was found wrong.
public struct CDAReport: Sendable {
    public var document: CDADocument?
    public var issues: [CDAIssue]

    public init(document: CDADocument?, issues: [CDAIssue]) {
        self.document = document
        self.issues = issues
    }

    public var errors: [String] { issues.filter { $0.severity == .error }.map(\.message) }
    public var warnings: [String] { issues.filter { $0.severity == .warning }.map(\.message) }
    /// Read, and nothing that makes it unusable.
    public var ok: Bool { document != nil && errors.isEmpty }
}

public struct CDAReadOptions: Sendable {
    public var limits: XMLLimits
    /// When set, the document is also validated against the CDA R2 XML schema.
    public var schema: CDASchema?

    public init(limits: XMLLimits = .default, schema: CDASchema? = nil) {
        self.limits = limits
        self.schema = schema
    }
}

/// Reads HL7 CDA R2 documents: safe parsing, header, section tree with safe narrative
/// HTML, the entries a board needs, and the header rules.
public enum CDAReader {
    public static func read(_ bytes: Data, options: CDAReadOptions = CDAReadOptions()) -> CDAReport {
        let tree: XMLTree
        do {
            tree = try SafeXML.parse(bytes, limits: options.limits)
        } catch {
            return CDAReport(document: nil, issues: [.error(error.description)])
        }
        guard let rootPointer = tree.root else {
            return CDAReport(document: nil, issues: [.error(XMLReadError.malformed(message: "aucun élément racine", line: 1, column: 1).description)])
        }
        var root = Node(pointer: rootPointer)
        var presentation = CDADocument.Presentation.plain
        // ANS publishes some documents "auto-présentables": an XSLT stylesheet (so a browser
        // shows the file) carrying the ClinicalDocument as one of its top-level elements.
        if root.name == "stylesheet" || root.name == "transform", root.namespace == Node.xsltNamespace {
            let documents = root.children.filter { $0.is("ClinicalDocument") }
            guard documents.count == 1, let embedded = documents.first else {
                return CDAReport(document: nil, issues: [.error(XMLReadError.selfPresentingDocuments(count: documents.count).description)])
            }
            root = embedded
            presentation = .selfPresenting
        }
        guard root.is("ClinicalDocument") else {
            return CDAReport(document: nil, issues: [.error(XMLReadError.notClinicalDocument(root: root.name, namespace: root.namespace).description)])
        }
        var extractor = Extractor()
        var document = extractor.document(root)
        document.presentation = presentation
        var issues = extractor.issues + HeaderRules.check(document)
        if let schema = options.schema {
            issues += schema.validate(tree, element: presentation == .plain ? nil : root.pointer).map { .error($0) }
        }
        return CDAReport(document: document, issues: issues)
    }
}

/// One pass over the tree. Header elements are dispatched by name from the root's
/// children; entries are walked once per section.
struct Extractor {
    var issues: [CDAIssue] = []
    var tnm = TNMEntries()
    var catalog: [CatalogStudy] = []
    var carePlan: [CarePlanItem] = []
    var quorumCode: String?
    var fileComplete: Bool?
    var embeddedFiles: [EmbeddedFile] = []

    static let rppsRoot = "1.2.250.1.71.4.2.1"
    static let finessRoot = "1.2.250.1.71.4.2.2"
    static let pdfCopyTemplate = "1.2.250.1.213.1.1.2.243"
    static let dicomCodeSystem = "1.2.840.10008.2.16.4"

    mutating func document(_ root: Node) -> CDADocument {
        var document = CDADocument(
            id: nil, setID: nil, version: nil, type: nil, templateIDs: [], title: nil, effectiveTime: nil,
            confidentiality: nil, language: nil, patient: nil, authors: [], custodian: nil, legalAuthenticator: nil,
            serviceEvents: [], orders: [], body: .missing, tnm: TNMEntries(), catalog: [], boardOutcome: nil, embeddedFiles: [])
        for child in root.children where Node.isHL7(child.pointer.pointee.ns) {
            switch child.name {
            case "templateId": if let root = child.value("root") { document.templateIDs.append(root) }
            case "id": document.id = identifier(child)
            case "code": document.type = coded(child)
            case "title": document.title = nonEmpty(child.normalizedText)
            case "effectiveTime": document.effectiveTime = time(child, field: "effectiveTime")
            case "confidentialityCode": document.confidentiality = coded(child)
            case "languageCode": document.language = child.value("code")
            case "setId": document.setID = identifier(child)
            case "versionNumber":
                if let raw = child.value("value") {
                    if let number = Int(raw), number > 0 { document.version = number }
                    else { issues.append(.warning("versionNumber « \(raw) » n'est pas un entier positif : ignoré.")) }
                }
            case "recordTarget": if document.patient == nil { document.patient = patient(child) }
            case "author": if let author = author(child) { document.authors.append(author) }
            case "custodian": document.custodian = child.path("assignedCustodian", "representedCustodianOrganization").map(organisation)
            case "legalAuthenticator":
                if let entity = child.child("assignedEntity") {
                    var person = person(entity)
                    person.time = child.child("time").flatMap { time($0, field: "legalAuthenticator/time") }
                    document.legalAuthenticator = person
                }
            case "inFulfillmentOf": if let order = child.child("order") { document.orders.append(fulfilledOrder(order)) }
            case "documentationOf": if let event = child.child("serviceEvent") { document.serviceEvents.append(serviceEvent(event)) }
            case "component": document.body = body(child)
            default: break
            }
        }
        document.tnm = tnm
        document.catalog = catalog
        document.carePlan = carePlan
        document.embeddedFiles = embeddedFiles
        if document.type?.code == CDADocument.ficheRCPCode {
            let carePlan = document.sections.flatMap(\.flattened).first { $0.code?.code == "18776-5" }
            document.boardOutcome = BoardOutcome(
                proposal: carePlan.flatMap { nonEmpty(Self.plainText(ofHTML: $0.narrativeHTML)) },
                quorumCode: quorumCode, fileComplete: fileComplete)
        }
        return document
    }

    // MARK: Header

    func identifier(_ node: Node) -> InstanceIdentifier? {
        guard let root = node.value("root") else { return nil }
        return InstanceIdentifier(root: root, extension: node.value("extension"))
    }

    func coded(_ node: Node) -> CodedValue? {
        guard let code = node.value("code") else { return nil }
        return CodedValue(code: code, codeSystem: node.value("codeSystem"), displayName: node.value("displayName"))
    }

    mutating func time(_ node: Node, field: String) -> HL7Time? {
        guard let raw = node.value("value") else { return nil }
        guard let time = HL7Time(raw) else {
            issues.append(.warning("\(field) « \(raw) » n'est pas une date HL7 valide : ignorée."))
            return nil
        }
        return time
    }

    func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }

    mutating func patient(_ recordTarget: Node) -> CDAPatient? {
        guard let role = recordTarget.child("patientRole") else { return nil }
        var patient = CDAPatient()
        for id in role.children("id") {
            guard let identifier = identifier(id) else { continue }
            patient.ids.append(identifier)
            if patient.ins == nil, let kind = INSKind(oid: identifier.root), let value = identifier.extension {
                let valid = (try? INS(matricule: value, kind: kind)) != nil
                patient.ins = DocumentINS(value: value, kind: kind, isValid: valid)
            }
        }
        guard let person = role.child("patient") else { return patient }
        var usedGiven: [String] = []
        for name in person.children("name") {
            for part in name.children {
                let qualifier = part.value("qualifier")
                let text = part.normalizedText
                guard !text.isEmpty else { continue }
                if part.is("family") {
                    switch qualifier {
                    case "BR": patient.birthName = text
                    case "CL", "SP": if patient.usedName == nil { patient.usedName = text }
                    case nil: if patient.birthName == nil { patient.birthName = text }
                    default: break
                    }
                } else if part.is("given") {
                    if qualifier == "CL" { usedGiven.append(text) }
                    else if !patient.given.contains(text) { patient.given.append(text) }
                }
            }
        }
        if patient.given.isEmpty { patient.given = usedGiven }
        if let gender = person.child("administrativeGenderCode")?.value("code") {
            patient.sex = ["M", "F", "U"].contains(gender) ? gender : "U"
        }
        patient.birthDate = person.child("birthTime").flatMap { time($0, field: "birthTime") }
        patient.birthPlaceCode = person.path("birthplace", "place", "addr", "county").flatMap { nonEmpty($0.normalizedText) }
        return patient
    }

    mutating func author(_ node: Node) -> CDAPerson? {
        guard let assigned = node.child("assignedAuthor") else { return nil }
        var author = person(assigned)
        author.time = node.child("time").flatMap { time($0, field: "author/time") }
        return author
    }

    func person(_ assigned: Node) -> CDAPerson {
        var person = CDAPerson(id: assigned.child("id").flatMap(identifier), specialty: assigned.child("code").flatMap(coded))
        if let id = person.id, id.root == Self.rppsRoot, let value = id.extension {
            // The national id of an RPPS professional is "8" followed by the 11-digit RPPS.
            person.rpps = value.count == 12 && value.hasPrefix("8") ? String(value.dropFirst()) : value
        }
        let name = (assigned.child("assignedPerson") ?? assigned.child("assignedAuthoringDevice"))?.child("name")
        if let name {
            person.family = name.child("family").flatMap { nonEmpty($0.normalizedText) }
            person.given = name.children("given").map(\.normalizedText).filter { !$0.isEmpty }.joined(separator: " ")
            if person.given?.isEmpty == true { person.given = nil }
            person.prefix = name.child("prefix").flatMap { nonEmpty($0.normalizedText) }
            if person.family == nil, person.given == nil { person.family = nonEmpty(name.normalizedText) }
        }
        person.organisation = assigned.child("representedOrganization").map(organisation)
        return person
    }

    func organisation(_ node: Node) -> CDAOrganisation {
        var organisation = CDAOrganisation(id: node.child("id").flatMap(identifier), name: node.child("name").flatMap { nonEmpty($0.normalizedText) })
        if let id = organisation.id, id.root == Self.finessRoot, let value = id.extension {
            // The national id of a FINESS structure is "1" followed by the 9-character FINESS.
            organisation.finess = value.count == 10 && value.hasPrefix("1") ? String(value.dropFirst()) : value
        }
        return organisation
    }

    func fulfilledOrder(_ order: Node) -> FulfilledOrder {
        var ids: [InstanceIdentifier] = []
        var accessions: [InstanceIdentifier] = []
        for child in order.children {
            // DICOM part 20 puts the accession number in its own namespace.
            if child.is("id") { if let id = identifier(child) { ids.append(id) } }
            else if child.name == "accessionNumber", let id = identifier(child) { accessions.append(id) }
        }
        return FulfilledOrder(ids: ids, accessionNumbers: accessions)
    }

    mutating func serviceEvent(_ event: Node) -> ServiceEvent {
        var result = ServiceEvent()
        for child in event.children {
            if child.is("id") { if let id = identifier(child) { result.ids.append(id) } }
            else if child.is("code") {
                result.code = coded(child)
                for translation in child.children("translation") where translation.value("codeSystem") == Self.dicomCodeSystem {
                    let isModality = translation.path("qualifier", "name")?.value("code") == "121139"
                    if isModality, let code = translation.value("code") { result.modalities.append(code) }
                }
            } else if child.is("effectiveTime") {
                result.start = child.child("low").flatMap { time($0, field: "serviceEvent/low") } ?? time(child, field: "serviceEvent/effectiveTime")
                result.end = child.child("high").flatMap { time($0, field: "serviceEvent/high") }
            }
        }
        return result
    }

    // MARK: Body

    mutating func body(_ component: Node) -> CDABody {
        if let structured = component.child("structuredBody") {
            return .structured(structured.children("component").compactMap { $0.child("section").map { section($0) } })
        }
        if let nonXML = component.child("nonXMLBody") {
            guard let text = nonXML.child("text") else { return .nonXML(mediaType: nil, data: nil) }
            let mediaType = text.value("mediaType") ?? "text/plain"
            if text.value("representation") == "B64" {
                guard let data = Data(base64Encoded: text.text, options: .ignoreUnknownCharacters), !data.isEmpty else {
                    issues.append(.error("Le corps non structuré (\(mediaType)) n'est pas un base64 valide."))
                    return .nonXML(mediaType: mediaType, data: nil)
                }
                return .nonXML(mediaType: mediaType, data: data)
            }
            if text.child("reference") != nil {
                issues.append(.warning("Le corps non structuré est une référence externe, non suivie : le contenu n'est pas dans le document."))
                return .nonXML(mediaType: mediaType, data: nil)
            }
            return .nonXML(mediaType: mediaType, data: Data(text.text.utf8))
        }
        return .missing
    }

    /// Recursion depth is bounded by the parser's nesting limit.
    mutating func section(_ node: Node) -> CDASection {
        var section = CDASection()
        var isCatalog = false
        var isPDFCopy = false
        for child in node.children where Node.isHL7(child.pointer.pointee.ns) {
            switch child.name {
            case "templateId":
                if let root = child.value("root") {
                    section.templateIDs.append(root)
                    if root == Self.pdfCopyTemplate { isPDFCopy = true }
                }
            case "code":
                section.code = coded(child)
                if section.code?.code == "121181" { isCatalog = true }
            case "title": section.title = nonEmpty(child.normalizedText)
            case "text": section.narrativeHTML = Narrative.html(of: child)
            case "component":
                if let nested = child.child("section") { section.subsections.append(self.section(nested)) }
            case "entry":
                if isCatalog { catalogEntry(child) }
                if isPDFCopy { embeddedFile(in: child) }
                if let procedure = child.child("procedure"), let item = carePlanItem(procedure) { carePlan.append(item) }
                scanEntry(child)
            default: break
            }
        }
        return section
    }

    /// Walks an entry for the coded observations a board needs (TNM, quorum, file complete).
    mutating func scanEntry(_ node: Node) {
        for child in node.children {
            if child.is("observation") { observation(child) }
            scanEntry(child)
        }
    }

    mutating func observation(_ node: Node) {
        guard let code = node.child("code")?.value("code") else { return }
        if TNMEntries.loincCodes.contains(code) {
            if let value = node.child("value"), let stage = value.value("code") ?? nonEmpty(value.normalizedText) {
                _ = tnm.record(loinc: code, value: stage)
            }
        } else if code == "ORG-125" {
            quorumCode = quorumCode ?? node.child("value")?.value("code")
        } else if code == "GEN-100" {
            if let value = node.child("value")?.value("value") { fileComplete = fileComplete ?? (value == "true") }
        }
    }

    /// One item of a personalised care plan (CI-SIS PPS, "FR-Traitement" procedures): what,
    /// done (EVN) or planned (INT), its confirmed dates, and its planned ones (GEN-177).
    mutating func carePlanItem(_ procedure: Node) -> CarePlanItem? {
        guard procedure.children("templateId").contains(where: { $0.value("root") == CarePlanItem.template }),
              let kind = procedure.child("code").flatMap(coded) else { return nil }
        // What: the code's qualifier value (CI-SIS), else a value of the procedure.
        let what = procedure.path("code", "qualifier", "value").flatMap(coded) ?? procedure.child("value").flatMap(coded)
        var item = CarePlanItem(kind: kind, what: what, done: procedure.value("moodCode") == "EVN")
        if let time = procedure.child("effectiveTime") {
            item.start = time.child("low").flatMap { self.time($0, field: "Début du traitement") }
            item.end = time.child("high").flatMap { self.time($0, field: "Fin du traitement") }
        }
        for relationship in procedure.children("entryRelationship") {
            guard let observation = relationship.child("observation"), observation.child("code")?.value("code") == "GEN-177",
                  let time = observation.child("effectiveTime") else { continue }
            item.plannedStart = time.child("low").flatMap { self.time($0, field: "Début prévu") }
            item.plannedEnd = time.child("high").flatMap { self.time($0, field: "Fin prévue") }
        }
        return item
    }

    mutating func catalogEntry(_ entry: Node) {
        for study in entry.children("act") {
            guard let uid = study.child("id")?.value("root") else { continue }
            var series: [CatalogSeries] = []
            for relationship in study.children("entryRelationship") {
                guard let act = relationship.child("act"), let seriesUID = act.child("id")?.value("root") else { continue }
                let modality = act.path("code", "qualifier", "value")?.value("code")
                let instances = act.children("entryRelationship").compactMap { $0.child("observation")?.child("id")?.value("root") }
                series.append(CatalogSeries(uid: seriesUID, modality: modality, instanceUIDs: instances))
            }
            catalog.append(CatalogStudy(uid: uid, series: series))
        }
    }

    mutating func embeddedFile(in node: Node) {
        for child in node.children {
            if child.is("observationMedia"), let value = child.child("value"), value.value("representation") == "B64" {
                let mediaType = value.value("mediaType") ?? "application/octet-stream"
                if let data = Data(base64Encoded: value.text, options: .ignoreUnknownCharacters), !data.isEmpty {
                    embeddedFiles.append(EmbeddedFile(mediaType: mediaType, data: data))
                } else {
                    issues.append(.warning("La copie jointe (\(mediaType)) n'est pas un base64 valide : ignorée."))
                }
            } else {
                embeddedFile(in: child)
            }
        }
    }

    /// Text of the safe HTML we produced: tags dropped, entities of our escaping undone.
    static func plainText(ofHTML html: String) -> String {
        var text = ""
        var inTag = false
        for character in html {
            if character == "<" { inTag = true; text.append(" ") }
            else if character == ">" { inTag = false }
            else if !inTag { text.append(character) }
        }
        let unescaped = text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
        return Node.normalizeSpace(unescaped)
    }
}
