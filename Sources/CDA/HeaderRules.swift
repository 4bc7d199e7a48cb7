import CLibXML2
import ConcertoCore
import Foundation

/// The CDA header rules Concerto relies on. Errors: the document cannot be filed (no
/// id, no type, no date, no patient, no body). Warnings: filed, with the gap shown.
enum HeaderRules {
    static func check(_ document: CDADocument) -> [CDAIssue] {
        var issues: [CDAIssue] = []
        if document.id == nil { issues.append(.error("Identifiant du document (id/@root) absent.")) }
        if document.type == nil { issues.append(.error("Type de document (code) absent.")) }
        if document.effectiveTime == nil { issues.append(.error("Date du document (effectiveTime) absente ou invalide.")) }
        if let patient = document.patient {
            if patient.ids.isEmpty { issues.append(.error("Aucun identifiant du patient (recordTarget/patientRole/id).")) }
            if let ins = patient.ins, !ins.isValid {
                issues.append(.warning("Le matricule INS \(ins.contractKind) n'a pas une clé valide : il ne sera pas utilisé pour identifier le patient."))
            } else if patient.ins == nil {
                issues.append(.warning("Pas d'INS parmi les identifiants du patient : le rapprochement se fera sur les traits d'identité."))
            }
            if patient.birthName == nil { issues.append(.warning("Nom de naissance du patient absent.")) }
            if patient.given.isEmpty { issues.append(.warning("Prénom(s) du patient absent(s).")) }
            if patient.birthDate == nil { issues.append(.warning("Date de naissance du patient absente.")) }
            if patient.sex == nil { issues.append(.warning("Sexe du patient absent.")) }
        } else {
            issues.append(.error("Patient (recordTarget/patientRole) absent."))
        }
        switch document.body {
        case .missing: issues.append(.error("Corps du document (structuredBody ou nonXMLBody) absent."))
        case .nonXML(_, let data) where data == nil: break // already reported while decoding
        case .structured(let sections) where sections.isEmpty: issues.append(.warning("Corps structuré sans section."))
        default: break
        }
        if document.title == nil { issues.append(.warning("Titre du document absent.")) }
        if document.confidentiality == nil { issues.append(.warning("Niveau de confidentialité (confidentialityCode) absent.")) }
        if document.language == nil { issues.append(.warning("Langue du document (languageCode) absente.")) }
        if document.setID == nil { issues.append(.warning("Identifiant du lot de versions (setId) absent.")) }
        if document.version == nil { issues.append(.warning("Numéro de version (versionNumber) absent.")) }
        if document.authors.isEmpty { issues.append(.warning("Aucun auteur.")) }
        if document.custodian == nil { issues.append(.warning("Structure conservant le document (custodian) absente.")) }
        if document.legalAuthenticator == nil { issues.append(.warning("Responsable du document (legalAuthenticator) absent.")) }
        if document.type?.code == CDADocument.imagingReportCode, document.studyInstanceUIDs.isEmpty {
            issues.append(.warning("Compte rendu d'imagerie sans identifiant d'examen (Study Instance UID)."))
        }
        return issues
    }
}

/// The CDA R2 XML schema, parsed once (about a second) and shared: libxml2 schemas are
/// read-only once built, and each validation makes its own context.
public final class CDASchema: @unchecked Sendable {
    // @unchecked: the xmlSchema is never mutated after init; validation contexts are per call.
    private let schema: xmlSchemaPtr

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(String)
        public var description: String {
            switch self {
            case .unreadable(let path): "Schéma XML illisible : \(path)"
            }
        }
    }

    /// `path` is the entry schema, e.g. `CDA_extended.xsd`, or a folder holding it.
    public init(path: String) throws {
        var entry = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            entry = (path as NSString).appendingPathComponent("CDA_extended.xsd")
        }
        _ = SafeXML.initialised
        guard FileManager.default.isReadableFile(atPath: entry) else { throw LoadError.unreadable(entry) }
        // Schema parsing is rare (start-up) and was seen to fail when several threads parsed
        // at once (libxml2 2.9): one at a time.
        let parsed: OpaquePointer? = Self.parseLock.withLock {
            guard let parser = xmlSchemaNewParserCtxt(entry) else { return nil }
            defer { xmlSchemaFreeParserCtxt(parser) }
            xmlSchemaSetParserStructuredErrors(parser, { _, _ in }, nil)
            return xmlSchemaParse(parser)
        }
        guard let parsed else { throw LoadError.unreadable(entry) }
        self.schema = parsed
    }

    private static let parseLock = NSLock()

    deinit { xmlSchemaFree(schema) }

    private final class Collected {
        var messages: [String] = []
    }

    /// Schema errors in French framing, at most 20 (the first ones say what is wrong).
    /// Validates the whole document, or only `element` (the ClinicalDocument inside a
    /// self-presenting stylesheet).
    func validate(_ tree: XMLTree, element: xmlNodePtr? = nil) -> [String] {
        guard let context = xmlSchemaNewValidCtxt(schema) else { return ["Validation par le schéma impossible (mémoire)."] }
        defer { xmlSchemaFreeValidCtxt(context) }
        let collected = Collected()
        let box = Unmanaged.passUnretained(collected).toOpaque()
        xmlSchemaSetValidStructuredErrors(context, { raw, error in
            guard let raw, let error else { return }
            let collected = Unmanaged<Collected>.fromOpaque(raw).takeUnretainedValue()
            guard collected.messages.count < 20 else { return }
            let message = error.pointee.message.map { String(cString: $0) }?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            collected.messages.append("Schéma CDA, ligne \(error.pointee.line) : \(message)")
        }, box)
        let result = withExtendedLifetime(collected) {
            if let element { xmlSchemaValidateOneElement(context, element) } else { xmlSchemaValidateDoc(context, tree.document) }
        }
        if result != 0, collected.messages.isEmpty { collected.messages.append("Document non conforme au schéma CDA R2.") }
        return collected.messages
    }
}
