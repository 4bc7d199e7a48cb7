import CLibXML2
import Foundation

/// Limits applied to every document before and while libxml2 reads it.
public struct XMLLimits: Sendable, Equatable {
    /// Largest accepted input, in bytes (20 MB by default).
    public var maxBytes: Int
    /// Deepest accepted element nesting. CDA documents nest about 20 levels; hostile
    /// inputs nest thousands to exhaust the stack of whoever walks the tree.
    public var maxDepth: Int

    public static let `default` = XMLLimits(maxBytes: 20 * 1024 * 1024, maxDepth: 256)

    public init(maxBytes: Int, maxDepth: Int) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
    }
}

/// Why a document could not be read at all. Every case says what is wrong in French,
/// with the line and column libxml2 reported when there is one.
public enum XMLReadError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case tooLarge(bytes: Int, limit: Int)
    case tooDeep(limit: Int, line: Int)
    /// A DOCTYPE: CDA documents never carry one, and refusing it shuts out external
    /// entities (XXE) and entity expansion bombs before anything is declared.
    case doctypeForbidden(line: Int)
    case encoding(message: String, line: Int, column: Int)
    case malformed(message: String, line: Int, column: Int)
    case notClinicalDocument(root: String, namespace: String?)
    /// A self-presenting document (an XSLT stylesheet carrying the ClinicalDocument, as ANS
    /// publishes some) with no, or more than one, ClinicalDocument inside.
    case selfPresentingDocuments(count: Int)

    public var description: String {
        switch self {
        case .empty:
            return "Le fichier est vide."
        case .tooLarge(let bytes, let limit):
            return "Le fichier fait \(Self.megabytes(bytes)), au-delà de la limite de \(Self.megabytes(limit))."
        case .tooDeep(let limit, let line):
            return "Ligne \(line) : imbrication de plus de \(limit) éléments, refusée."
        case .doctypeForbidden(let line):
            return "Ligne \(line) : déclaration DOCTYPE refusée (un document CDA n'en contient pas ; les entités externes et les expansions d'entités sont interdites)."
        case .encoding(let message, let line, let column):
            return "Ligne \(line), colonne \(column) : encodage des caractères invalide (\(message))."
        case .malformed(let message, let line, let column):
            return "Ligne \(line), colonne \(column) : XML mal formé (\(message))."
        case .notClinicalDocument(let root, let namespace):
            let ns = namespace.map { "dans l'espace de noms \($0)" } ?? "sans espace de noms"
            return "Ce n'est pas un document CDA : l'élément racine est <\(root)> \(ns), un ClinicalDocument dans urn:hl7-org:v3 est attendu."
        case .selfPresentingDocuments(let count):
            return count == 0
                ? "Feuille de style auto-présentable sans ClinicalDocument : aucun document CDA à lire."
                : "Feuille de style auto-présentable contenant \(count) ClinicalDocument : un seul est attendu, rien n'a été lu."
        }
    }

    private static func megabytes(_ bytes: Int) -> String {
        let tenths = (bytes * 10 + 512 * 1024) / (1024 * 1024)
        return "\(tenths / 10),\(tenths % 10) Mo"
    }
}

/// A parsed XML tree owned by Swift: freed with the object. Reading goes through
/// `SafeXML.parse`, which applies the options and limits; nothing else creates one.
final class XMLTree {
    let document: xmlDocPtr

    init(_ document: xmlDocPtr) { self.document = document }
    deinit { xmlFreeDoc(document) }

    var root: xmlNodePtr? { xmlDocGetRootElement(document) }
}

enum SafeXML {
    /// libxml2 wants one initialisation before threads use it (a Swift static is
    /// initialised once, thread-safely; every entry point goes through it).
    static let initialised: Void = { xmlInitParser() }()

    /// No network, no DTD loading, no entity substitution. HUGE lifts libxml2's 10 MB
    /// single-text-node cap (a base64 PDF in a 20 MB document is one text node); depth
    /// and size are bounded here instead, and DOCTYPEs are refused outright.
    private static let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_HUGE.rawValue
        | XML_PARSE_COMPACT.rawValue | XML_PARSE_NOCDATA.rawValue)

    /// What the SAX callbacks learn while libxml2 parses: reached through `ctxt._private`.
    private final class ParseState {
        let maxDepth: Int32
        var refusal: XMLReadError?
        var firstError: (code: Int32, message: String, line: Int, column: Int)?
        init(maxDepth: Int) { self.maxDepth = Int32(clamping: maxDepth) }
    }

    static func parse(_ bytes: Data, limits: XMLLimits = .default) throws(XMLReadError) -> XMLTree {
        _ = initialised
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= limits.maxBytes else { throw .tooLarge(bytes: bytes.count, limit: limits.maxBytes) }
        guard let context = xmlNewParserCtxt() else {
            throw .malformed(message: "mémoire insuffisante", line: 0, column: 0)
        }
        defer { xmlFreeParserCtxt(context) }
        let state = ParseState(maxDepth: limits.maxDepth)
        context.pointee._private = Unmanaged.passUnretained(state).toOpaque()
        if let sax = context.pointee.sax {
            sax.pointee.internalSubset = refuseDoctype
            sax.pointee.startElementNs = startElementWithinDepth
            sax.pointee.serror = collectError
            sax.pointee.warning = nil
        }
        let document = withExtendedLifetime(state) {
            bytes.withUnsafeBytes { raw -> xmlDocPtr? in
                let base = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
                return xmlCtxtReadMemory(context, base, Int32(raw.count), nil, nil, options)
            }
        }
        if let refusal = state.refusal {
            if let document { xmlFreeDoc(document) }
            throw refusal
        }
        guard let document, context.pointee.wellFormed != 0 else {
            if let document { xmlFreeDoc(document) }
            throw readError(state.firstError)
        }
        return XMLTree(document)
    }

    private static func readError(_ error: (code: Int32, message: String, line: Int, column: Int)?) -> XMLReadError {
        guard let error else { return .malformed(message: "document illisible", line: 0, column: 0) }
        switch xmlParserErrors(UInt32(error.code)) {
        case XML_ERR_INVALID_CHAR, XML_ERR_INVALID_ENCODING, XML_ERR_UNSUPPORTED_ENCODING,
             XML_ERR_UNKNOWN_ENCODING, XML_ERR_INVALID_CHARREF:
            return .encoding(message: error.message, line: error.line, column: error.column)
        default:
            return .malformed(message: error.message, line: error.line, column: error.column)
        }
    }

    private static func state(of context: UnsafeMutableRawPointer?) -> (xmlParserCtxtPtr, ParseState)? {
        guard let context else { return nil }
        let parser = context.assumingMemoryBound(to: xmlParserCtxt.self)
        guard let raw = parser.pointee._private else { return nil }
        return (parser, Unmanaged<ParseState>.fromOpaque(raw).takeUnretainedValue())
    }

    private static let refuseDoctype: internalSubsetSAXFunc = { context, _, _, _ in
        guard let (parser, state) = SafeXML.state(of: context) else { return }
        state.refusal = state.refusal ?? .doctypeForbidden(line: Int(xmlSAX2GetLineNumber(context)))
        xmlStopParser(parser)
    }

    private static let startElementWithinDepth: startElementNsSAX2Func = {
        context, localname, prefix, uri, nbNamespaces, namespaces, nbAttributes, nbDefaulted, attributes in
        if let (parser, state) = SafeXML.state(of: context), parser.pointee.nameNr > state.maxDepth {
            state.refusal = state.refusal ?? .tooDeep(limit: Int(state.maxDepth), line: Int(xmlSAX2GetLineNumber(context)))
            xmlStopParser(parser)
            return
        }
        xmlSAX2StartElementNs(context, localname, prefix, uri, nbNamespaces, namespaces, nbAttributes, nbDefaulted, attributes)
    }

    private static let collectError: xmlStructuredErrorFunc = { context, error in
        guard let error, let (_, state) = SafeXML.state(of: context), state.firstError == nil,
              error.pointee.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
        let message = error.pointee.message.map { String(cString: $0) }?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "erreur"
        let oneLine = Node.normalizeSpace(message)
        state.firstError = (error.pointee.code, oneLine, Int(error.pointee.line), Int(error.pointee.int2))
    }
}
