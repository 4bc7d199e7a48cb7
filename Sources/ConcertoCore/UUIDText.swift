import Foundation

/// Ids as text: stored lower-case on both engines and written into every URL. A page of 40
/// agenda rows reads and writes a few hundred of them; Foundation's `uuidString` and
/// `UUID(uuidString:)` go through libuuid's sprintf and sscanf (7 % of the page's CPU in
/// perf profiles), so both directions are done here by hand.
extension UUID {
    /// The 36-character lower-case form, e.g. `3f2504e0-4f89-11d3-9a0c-0305e82c3301`.
    public var storageKey: String {
        withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { text in
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    text[position] = Self.hexDigits[Int(byte >> 4)]
                    text[position + 1] = Self.hexDigits[Int(byte & 0x0F)]
                    position += 2
                }
                return position
            }
        }
    }

    /// Reads the 8-4-4-4-12 hexadecimal form, in either case (what `UUID(uuidString:)`
    /// accepts); nil for anything else.
    public init?(storageKey text: some StringProtocol) {
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let parsed = withUnsafeMutableBytes(of: &bytes) { output in
            text.utf8.withContiguousStorageIfAvailable { Self.parse($0, into: output) }
                ?? Array(text.utf8).withUnsafeBufferPointer { Self.parse($0, into: output) }
        }
        guard parsed else { return nil }
        self.init(uuid: bytes)
    }

    private static func parse(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard input.count == 36 else { return false }
        var position = 0
        for index in 0..<16 {
            if index == 4 || index == 6 || index == 8 || index == 10 {
                guard input[position] == UInt8(ascii: "-") else { return false }
                position += 1
            }
            guard let high = hexValue(input[position]), let low = hexValue(input[position + 1]) else { return false }
            output[index] = high << 4 | low
            position += 2
        }
        return true
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func hexValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
