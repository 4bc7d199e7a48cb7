import Foundation

/// Writes XML into one byte buffer, escaping every text and attribute value. Elements
/// nest through closures, so an opened element is always closed; attributes whose value
/// is nil are left out.
struct XMLWriter {
    private(set) var bytes: [UInt8] = []
    private var depth = 0

    /// A document, starting with the XML declaration.
    init() {
        bytes.reserveCapacity(32 * 1024)
        append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
    }

    /// A fragment: no declaration.
    private init(fragment: Void) {}

    private mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    private mutating func indent() {
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: depth * 2))
    }

    private mutating func appendEscaped(_ text: String, attribute: Bool) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "&"): append("&amp;")
            case UInt8(ascii: "<"): append("&lt;")
            case UInt8(ascii: ">"): append("&gt;")
            case UInt8(ascii: "\"") where attribute: append("&quot;")
            case 0x0A where attribute: append("&#10;")
            case 0x0D: append("&#13;")
            case 0x09 where attribute: append("&#9;")
            // Other control characters are not allowed in XML 1.0: dropped.
            case 0x00..<0x20 where byte != 0x0A && byte != 0x09: break
            default: bytes.append(byte)
            }
        }
    }

    private mutating func open(_ name: String, _ attributes: KeyValuePairs<String, String?>, selfClosing: Bool) {
        indent()
        append("<\(name)")
        for (key, value) in attributes {
            guard let value else { continue }
            append(" \(key)=\"")
            appendEscaped(value, attribute: true)
            append("\"")
        }
        append(selfClosing ? "/>\n" : ">")
    }

    /// `<name a="…"/>`
    mutating func empty(_ name: String, _ attributes: KeyValuePairs<String, String?> = [:]) {
        open(name, attributes, selfClosing: true)
    }

    /// `<name a="…">text</name>`; nothing when `text` is nil.
    mutating func text(_ name: String, _ text: String?, _ attributes: KeyValuePairs<String, String?> = [:]) {
        guard let text else { return }
        open(name, attributes, selfClosing: false)
        appendEscaped(text, attribute: false)
        append("</\(name)>\n")
    }

    /// `<name a="…">` children `</name>`
    mutating func element(_ name: String, _ attributes: KeyValuePairs<String, String?> = [:], _ body: (inout XMLWriter) -> Void) {
        open(name, attributes, selfClosing: false)
        append("\n")
        depth += 1
        body(&self)
        depth -= 1
        indent()
        append("</\(name)>\n")
    }

    /// Mixed content on one line: `<name>` pieces `</name>` (narrative paragraphs).
    mutating func inline(_ name: String, _ attributes: KeyValuePairs<String, String?> = [:], _ body: (inout InlineWriter) -> Void) {
        open(name, attributes, selfClosing: false)
        var inline = InlineWriter()
        body(&inline)
        bytes.append(contentsOf: inline.bytes)
        append("</\(name)>\n")
    }

    var data: Data { Data(bytes) }

    /// Text and inline elements inside a narrative block.
    struct InlineWriter {
        fileprivate(set) var bytes: [UInt8] = []

        mutating func text(_ text: String) {
            var writer = XMLWriter.bare()
            writer.appendEscaped(text, attribute: false)
            bytes.append(contentsOf: writer.bytes)
        }

        mutating func element(_ name: String, _ attributes: KeyValuePairs<String, String?> = [:], text content: String) {
            var writer = XMLWriter.bare()
            writer.append("<\(name)")
            for (key, value) in attributes {
                guard let value else { continue }
                writer.append(" \(key)=\"")
                writer.appendEscaped(value, attribute: true)
                writer.append("\"")
            }
            writer.append(">")
            writer.appendEscaped(content, attribute: false)
            writer.append("</\(name)>")
            bytes.append(contentsOf: writer.bytes)
        }

        /// Line breaks of a multi-line text become `<br/>`.
        mutating func lines(_ text: String) {
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                if index > 0 { bytes.append(contentsOf: Array("<br/>".utf8)) }
                self.text(String(line).trimmingCharacters(in: CharacterSet(charactersIn: "\r")))
            }
        }
    }

    private static func bare() -> XMLWriter { XMLWriter(fragment: ()) }
}
