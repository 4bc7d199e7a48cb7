import ConcertoCore
import Foundation

/// A ZIP archive of stored (uncompressed) entries with UTF-8 names: what the minutes
/// bundle needs (PDFs and XML), readable by every unzip tool, without a dependency.
public struct ZipArchive {
    private var body: [UInt8] = []
    private var directory: [UInt8] = []
    private var count = 0

    public init() {}

    public mutating func add(_ name: String, _ data: Data, modified: Date = Date()) {
        let nameBytes = Array(name.utf8)
        let crc = CRC32.checksum(data)
        let (time, date) = Self.dosTime(modified)
        let offset = UInt32(body.count)
        func header(central: Bool) -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.le32(central ? 0x0201_4B50 : 0x0403_4B50)
            if central { bytes.le16(20) }            // made by
            bytes.le16(20)                           // version needed
            bytes.le16(0x0800)                       // flags: UTF-8 names
            bytes.le16(0)                            // stored
            bytes.le16(time); bytes.le16(date)
            bytes.le32(crc)
            bytes.le32(UInt32(data.count)); bytes.le32(UInt32(data.count))
            bytes.le16(UInt16(nameBytes.count))
            bytes.le16(0)                            // extra length
            if central {
                bytes.le16(0); bytes.le16(0); bytes.le16(0) // comment, disk, internal attributes
                bytes.le32(0)                        // external attributes
                bytes.le32(offset)
            }
            return bytes + nameBytes
        }
        body += header(central: false)
        body += data
        directory += header(central: true)
        count += 1
    }

    public var data: Data {
        var end: [UInt8] = []
        end.le32(0x0605_4B50)
        end.le16(0); end.le16(0)
        end.le16(UInt16(count)); end.le16(UInt16(count))
        end.le32(UInt32(directory.count))
        end.le32(UInt32(body.count))
        end.le16(0)
        return Data(body + directory + end)
    }

    static func dosTime(_ date: Date) -> (UInt16, UInt16) {
        let c = ParisCalendar.calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let time = UInt16((c.hour ?? 0) << 11 | (c.minute ?? 0) << 5 | (c.second ?? 0) / 2)
        let day = UInt16(max(0, (c.year ?? 1980) - 1980) << 9 | (c.month ?? 1) << 5 | (c.day ?? 1))
        return (time, day)
    }
}

enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

extension [UInt8] {
    mutating func le16(_ value: UInt16) { append(UInt8(value & 0xFF)); append(UInt8(value >> 8)) }
    mutating func le32(_ value: UInt32) { for shift in stride(from: 0, to: 32, by: 8) { append(UInt8((value >> UInt32(shift)) & 0xFF)) } }
}
