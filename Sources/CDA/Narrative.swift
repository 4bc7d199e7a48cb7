import CLibXML2
import Foundation

/// Turns a CDA narrative block (`section/text`) into HTML that is safe to insert in a
/// page: only an allow-list of elements is kept, each with only the attributes that
/// carry meaning and only values we produce or check; everything else becomes text.
enum Narrative {
    static func html(of text: Node) -> String {
        var writer = HTMLWriter()
        writer.children(of: text, inTable: false)
        return writer.result
    }
}

private struct HTMLWriter {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(4096) }

    var result: String { String(decoding: bytes, as: UTF8.self) }

    mutating func children(of node: Node, inTable: Bool) {
        for child in node.allChildren {
            if child.isText {
                escapeText(child.pointer.pointee.content)
            } else if child.isElement {
                element(child, inTable: inTable)
            }
        }
    }

    mutating func element(_ node: Node, inTable: Bool) {
        guard Node.isHL7(node.pointer.pointee.ns) else {
            children(of: node, inTable: inTable)
            return
        }
        switch node.name {
        case "paragraph":
            wrap("p", node, inTable: inTable)
        case "list":
            wrap(node.value("listType") == "ordered" ? "ol" : "ul", node, inTable: inTable)
        case "item":
            wrap("li", node, inTable: inTable)
        case "table":
            wrap("table", node, inTable: true)
        case "thead", "tbody", "tfoot", "tr", "colgroup":
            if inTable { wrap(node.name, node, inTable: true) } else { children(of: node, inTable: false) }
        case "th", "td":
            if inTable { cell(node) } else { children(of: node, inTable: false) }
        case "col":
            if inTable { append("<col>") }
        case "caption":
            wrap(inTable ? "caption" : "strong", node, inTable: inTable)
        case "br":
            append("<br>")
        case "sub", "sup":
            wrap(node.name, node, inTable: inTable)
        case "content":
            content(node, inTable: inTable)
        case "linkHtml":
            link(node, inTable: inTable)
        case "renderMultiMedia":
            // The reference is the document's text: escaped like any other.
            append("<span class=\"cda-media\">[Média")
            if let reference = node.value("referencedObject") {
                append(" ")
                escape(reference, attribute: true)
            }
            append("]</span>")
        case "footnote":
            append("<small class=\"cda-footnote\">")
            children(of: node, inTable: inTable)
            append("</small>")
        default:
            children(of: node, inTable: inTable)
        }
    }

    mutating func wrap(_ tag: String, _ node: Node, inTable: Bool) {
        append("<"); append(tag); append(">")
        children(of: node, inTable: inTable)
        append("</"); append(tag); append(">")
    }

    mutating func cell(_ node: Node) {
        let tag = node.name
        append("<"); append(tag)
        for span in ["colspan", "rowspan"] {
            let value = span == "colspan" ? node.value("colspan") : node.value("rowspan")
            if let value, let number = Int(value), (1...1000).contains(number) {
                append(" \(span)=\"\(number)\"")
            }
        }
        append(">")
        children(of: node, inTable: true)
        append("</"); append(tag); append(">")
    }

    /// `content` keeps only the style codes CDA defines, as classes.
    mutating func content(_ node: Node, inTable: Bool) {
        let classes = (node.value("styleCode") ?? "").split(separator: " ").compactMap { Self.styleClasses[String($0)] }
        guard !classes.isEmpty else {
            children(of: node, inTable: inTable)
            return
        }
        append("<span class=\"\(classes.joined(separator: " "))\">")
        children(of: node, inTable: inTable)
        append("</span>")
    }

    static let styleClasses: [String: String] = [
        "Bold": "cda-bold", "Italics": "cda-italics", "Underline": "cda-underline", "Emphasis": "cda-emphasis",
        "Lrule": "cda-lrule", "Rrule": "cda-rrule", "Toprule": "cda-toprule", "Botrule": "cda-botrule",
        "xcellHighlight": "cda-highlight",
    ]

    /// Links survive only to http and https, and open apart from Concerto.
    mutating func link(_ node: Node, inTable: Bool) {
        guard let href = node.value("href"), let url = URL(string: href.replacingOccurrences(of: " ", with: "%20")),
              let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
            children(of: node, inTable: inTable)
            return
        }
        append("<a href=\"")
        escape(url.absoluteString, attribute: true)
        append("\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">")
        children(of: node, inTable: inTable)
        append("</a>")
    }

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func escape(_ text: String, attribute: Bool) {
        for byte in text.utf8 { escapeByte(byte, attribute: attribute) }
    }

    mutating func escapeText(_ content: UnsafeMutablePointer<xmlChar>?) {
        guard let content else { return }
        var cursor = UnsafePointer(content)
        while cursor.pointee != 0 {
            escapeByte(cursor.pointee, attribute: false)
            cursor += 1
        }
    }

    @inline(__always)
    mutating func escapeByte(_ byte: UInt8, attribute: Bool) {
        switch byte {
        case UInt8(ascii: "&"): bytes.append(contentsOf: "&amp;".utf8)
        case UInt8(ascii: "<"): bytes.append(contentsOf: "&lt;".utf8)
        case UInt8(ascii: ">"): bytes.append(contentsOf: "&gt;".utf8)
        case UInt8(ascii: "\"") where attribute: bytes.append(contentsOf: "&quot;".utf8)
        case UInt8(ascii: "'") where attribute: bytes.append(contentsOf: "&#39;".utf8)
        default: bytes.append(byte)
        }
    }
}
