import CLibXML2
import Foundation

/// Read-only walking of a libxml2 tree without copies: names are compared in place,
/// strings are made only for the values kept.
struct Node {
    let pointer: xmlNodePtr

    static let hl7Namespace = "urn:hl7-org:v3"
    static let xsltNamespace = "http://www.w3.org/1999/XSL/Transform"

    var isElement: Bool { pointer.pointee.type == XML_ELEMENT_NODE }
    var isText: Bool { pointer.pointee.type == XML_TEXT_NODE || pointer.pointee.type == XML_CDATA_SECTION_NODE }

    var name: String { pointer.pointee.name.map { String(cString: $0) } ?? "" }
    var namespace: String? { pointer.pointee.ns?.pointee.href.map { String(cString: $0) } }
    var line: Int { Int(xmlGetLineNo(pointer)) }

    /// True for an element of the CDA namespace with this local name.
    func `is`(_ local: StaticString) -> Bool {
        guard pointer.pointee.type == XML_ELEMENT_NODE, let name = pointer.pointee.name else { return false }
        guard strcmp(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self),
                     UnsafeRawPointer(local.utf8Start).assumingMemoryBound(to: CChar.self)) == 0 else { return false }
        return Self.isHL7(pointer.pointee.ns)
    }

    /// Whether a namespace is CDA's: a short strcmp, cheaper than making a String.
    static func isHL7(_ namespace: xmlNsPtr?) -> Bool {
        guard let href = namespace?.pointee.href else { return false }
        return strcmp(UnsafeRawPointer(href).assumingMemoryBound(to: CChar.self), "urn:hl7-org:v3") == 0
    }

    /// Element children, in document order.
    var children: ElementSequence { ElementSequence(first: pointer.pointee.children) }

    /// All child nodes (text included), in document order.
    var allChildren: NodeSequence { NodeSequence(first: pointer.pointee.children) }

    func child(_ local: StaticString) -> Node? { children.first { $0.is(local) } }
    func children(_ local: StaticString) -> [Node] { children.filter { $0.is(local) } }

    /// Follows a path of CDA element names: `node.path("patientRole", "patient")`.
    func path(_ names: StaticString...) -> Node? {
        var current: Node? = self
        for name in names { current = current?.child(name) }
        return current
    }

    /// An unqualified attribute (CDA's own), or with `xsi` the schema-instance one (`xsi:type`).
    func attribute(_ local: StaticString, xsi: Bool = false) -> String? {
        var property = pointer.pointee.properties
        while let current = property {
            if let name = current.pointee.name,
               strcmp(UnsafeRawPointer(name).assumingMemoryBound(to: CChar.self),
                      UnsafeRawPointer(local.utf8Start).assumingMemoryBound(to: CChar.self)) == 0,
               (current.pointee.ns != nil) == xsi {
                if let text = current.pointee.children, text.pointee.next == nil, let content = text.pointee.content {
                    return String(cString: content)
                }
                guard let value = xmlNodeListGetString(pointer.pointee.doc, current.pointee.children, 1) else { return "" }
                defer { concerto_xml_free(value) }
                return String(cString: value)
            }
            property = current.pointee.next
        }
        return nil
    }

    /// A non-empty attribute, trimmed.
    func value(_ local: StaticString) -> String? {
        guard let raw = attribute(local) else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The text of the element and its descendants.
    var text: String {
        guard let content = xmlNodeGetContent(pointer) else { return "" }
        defer { concerto_xml_free(content) }
        return String(cString: content)
    }

    /// Text with runs of white space folded to one space and trimmed.
    var normalizedText: String { Self.normalizeSpace(text) }

    static func normalizeSpace(_ raw: String) -> String {
        var out = ""
        out.reserveCapacity(raw.utf8.count)
        var pendingSpace = false
        for scalar in raw.unicodeScalars {
            if scalar == " " || scalar == "\n" || scalar == "\t" || scalar == "\r" {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" "); pendingSpace = false }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

struct ElementSequence: Sequence, IteratorProtocol {
    var cursor: xmlNodePtr?
    init(first: xmlNodePtr?) { cursor = first }

    mutating func next() -> Node? {
        while let current = cursor {
            cursor = current.pointee.next
            if current.pointee.type == XML_ELEMENT_NODE { return Node(pointer: current) }
        }
        return nil
    }
}

struct NodeSequence: Sequence, IteratorProtocol {
    var cursor: xmlNodePtr?
    init(first: xmlNodePtr?) { cursor = first }

    mutating func next() -> Node? {
        guard let current = cursor else { return nil }
        cursor = current.pointee.next
        return Node(pointer: current)
    }
}
