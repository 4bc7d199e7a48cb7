import Foundation

/// FINESS number of a health structure: 9 characters, the department (two digits, or
/// 2A/2B in Corsica) then six digits and a Luhn check digit. For the check, Corsica's
/// 2A/2B are read as 20, the department's number before the 1976 split.
/// Comparing secrets (CSRF tokens, OpenID Connect state and nonce) without an early exit,
/// so timing says nothing about how much of a guess was right.
public enum ConstantTime {
    public static func equals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

public struct FINESSNumber: Sendable, Hashable, CustomStringConvertible {
    public static let oid = "1.2.250.1.71.4.2.2"
    public let value: String

    public init?(_ raw: String) {
        let trimmed = raw.filter { !$0.isWhitespace }.uppercased()
        guard trimmed.count == 9, trimmed.allSatisfy(\.isASCII) else { return nil }
        let department = trimmed.prefix(2)
        let rest = trimmed.dropFirst(2)
        guard rest.allSatisfy(\.isNumber) else { return nil }
        let numericDepartment: Substring
        switch department {
        case "2A", "2B": numericDepartment = "20"
        default:
            guard department.allSatisfy(\.isNumber) else { return nil }
            numericDepartment = department
        }
        guard RPPSNumber.luhnIsValid(String(numericDepartment + rest)) else { return nil }
        value = trimmed
    }

    public var description: String { value }
}

/// The kind of national health identifier, told apart by its OID.
public enum INSKind: String, Sendable, Codable, CaseIterable {
    /// The NIR, the social security number of the person.
    case nir
    /// NIA, a waiting number given before a NIR is attributed.
    case nia
    /// Test identities (test NIR).
    case test
    /// Demonstration identities (demo NIR).
    case demo

    public var oid: String {
        switch self {
        case .nir: "1.2.250.1.213.1.4.8"
        case .nia: "1.2.250.1.213.1.4.9"
        case .test: "1.2.250.1.213.1.4.10"
        case .demo: "1.2.250.1.213.1.4.11"
        }
    }

    public init?(oid: String) {
        guard let kind = Self.allCases.first(where: { $0.oid == oid }) else { return nil }
        self = kind
    }
}

/// The INS (identifiant national de santé): the 15-character matricule and its OID.
public struct INS: Sendable, Hashable, Codable, CustomStringConvertible {
    public let matricule: String
    public let kind: INSKind

    public enum Problem: Error, Equatable, Sendable {
        case wrongLength
        case invalidCharacters
        case wrongKey
    }

    /// Validates the matricule: 13 characters (digits, with 2A/2B possible as the
    /// department in positions 6-7) and a 2-digit key equal to 97 − (number mod 97),
    /// where Corsica's 2A and 2B are read as 19 and 18.
    public static func validate(_ raw: String) -> Result<String, Problem> {
        let matricule = raw.filter { !$0.isWhitespace }.uppercased()
        guard matricule.count == 15 else { return .failure(.wrongLength) }
        guard matricule.allSatisfy(\.isASCII) else { return .failure(.invalidCharacters) }
        var body = String(matricule.prefix(13))
        let key = matricule.suffix(2)
        let department = body.dropFirst(5).prefix(2)
        if department == "2A" || department == "2B" {
            let start = body.index(body.startIndex, offsetBy: 5)
            body.replaceSubrange(start..<body.index(start, offsetBy: 2), with: department == "2A" ? "19" : "18")
        }
        guard body.allSatisfy(\.isNumber), key.allSatisfy(\.isNumber), let number = UInt64(body), let keyValue = Int(key) else {
            return .failure(.invalidCharacters)
        }
        guard keyValue == 97 - Int(number % 97) else { return .failure(.wrongKey) }
        return .success(matricule)
    }

    public init(matricule raw: String, kind: INSKind) throws(Problem) {
        switch Self.validate(raw) {
        case .success(let matricule): self.matricule = matricule
        case .failure(let problem): throw problem
        }
        self.kind = kind
    }

    public var oid: String { kind.oid }
    public var description: String { matricule }
}

/// How far the identity was checked (référentiel national d'identitovigilance).
/// Only a qualified identity may carry the INS as an identifier.
public enum IdentityStatus: String, Sendable, Codable, CaseIterable {
    case provisional = "PROV"
    case retrieved = "RECUP"
    case validated = "VALI"
    case qualified = "QUAL"
}
