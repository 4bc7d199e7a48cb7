import Foundation
import Hummingbird
import MultipartKit
import NIOCore

/// A file sent in a multipart form.
public struct UploadedFile: Sendable, Equatable {
    public var fieldName: String
    /// The name the browser gave, for messages only: never used as a path.
    public var fileName: String
    public var contentType: String?
    public var data: Data
}

/// A `multipart/form-data` body split into text fields and files.
struct MultipartBody {
    var fields: [String: String] = [:]
    var files: [UploadedFile] = []

    init(contentType: String, body: ByteBuffer) throws {
        guard let boundary = Self.boundary(in: contentType) else { throw AppError.badRequest }
        let parser = MultipartParser(boundary: boundary)
        var parts: [MultipartPart] = []
        var headers = HTTPHeaders()
        var partBody = ByteBuffer()
        parser.onHeader = { name, value in headers.add(name: name, value: value) }
        parser.onBody = { chunk in partBody.writeBuffer(&chunk) }
        parser.onPartComplete = {
            parts.append(MultipartPart(headers: headers, body: partBody))
            headers = HTTPHeaders()
            partBody = ByteBuffer()
        }
        do {
            try parser.execute(body)
        } catch {
            throw AppError.badRequest
        }
        for part in parts {
            guard let disposition = part.headers.first(name: "Content-Disposition"), let name = Self.parameter("name", in: disposition) else { continue }
            if let fileName = Self.parameter("filename", in: disposition) {
                // An empty file input still sends a part with no name and no bytes.
                guard !fileName.isEmpty || part.body.readableBytes > 0 else { continue }
                files.append(UploadedFile(fieldName: name, fileName: fileName, contentType: part.headers.first(name: "Content-Type"),
                                          data: Data(part.body.readableBytesView)))
            } else {
                fields[name] = String(buffer: part.body)
            }
        }
    }

    static func boundary(in contentType: String) -> String? {
        parameter("boundary", in: contentType)
    }

    /// `name="value"` or `name=value` in a header value; quotes removed.
    static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";") {
            let trimmed = piece.trimmingCharacters(in: .whitespaces)
            guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals].lowercased() == name else { continue }
            var value = trimmed[trimmed.index(after: equals)...]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            return String(value)
        }
        return nil
    }
}
