import Mustache

/// HTML escaping over UTF-8 bytes. swift-mustache's default escaper looks up every
/// Character in a dictionary, which dominated page rendering; this one returns the text
/// untouched when nothing needs escaping (the common case) and escapes the same five
/// characters otherwise. Templates select it with `{{% CONTENT_TYPE: HTML_FAST }}`.
struct FastHTMLContentType: MustacheContentType {
    static let name = "HTML_FAST"

    func escapeText(_ text: String) -> String {
        HTMLEscaping.escape(text)
    }

    static func register() {
        MustacheContentTypes.register(FastHTMLContentType(), named: name)
    }
}

enum HTMLEscaping {
    static func escape(_ text: String) -> String {
        let utf8 = text.utf8
        guard utf8.contains(where: { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "&")
            || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "'") })
        else { return text }
        var output: [UInt8] = []
        output.reserveCapacity(utf8.count + 16)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "<"): output.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): output.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "&"): output.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "\""): output.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): output.append(contentsOf: "&#39;".utf8)
            default: output.append(byte)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}

/// Lets Mustache take a string's text as is; its fallback formats every value with
/// `String(describing:)` after unwrapping optionals, a measurable cost on every page.
/// The output is identical (escaping still applies).
extension String: @retroactive MustacheCustomRenderable {
    public var renderText: String { self }
    public var isNull: Bool { false }
}
