import Foundation

/// What a person does on the platform; communities refine it later (issue 3).
public enum ProfessionalRole: String, Codable, Sendable, CaseIterable {
    case admin
    case coordinator
    case physician
    case secretary
}

/// A platform account. Passwords never leave the store except as a bcrypt hash.
public struct User: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    public var email: String
    public var displayName: String
    public var rppsNumber: String?
    /// Free text kept from before the curated list; `specialtyCode` wins when set.
    public var specialty: String?
    /// Code in `Specialty.all` (CI-SIS value set).
    public var specialtyCode: String?
    public var organisationID: UUID?
    public var role: ProfessionalRole
    public var locale: AppLanguage?
    public var isAdmin: Bool
    public var totpEnabled: Bool
    /// Set by a platform admin: the account keeps its history but cannot log in.
    public var disabledAt: Date?

    public init(
        id: UUID = UUID(), email: String, displayName: String, rppsNumber: String? = nil,
        specialty: String? = nil, specialtyCode: String? = nil, organisationID: UUID? = nil,
        role: ProfessionalRole, locale: AppLanguage? = nil, isAdmin: Bool = false, totpEnabled: Bool = false,
        disabledAt: Date? = nil
    ) {
        self.id = id
        self.email = email
        self.displayName = displayName
        self.rppsNumber = rppsNumber
        self.specialty = specialty
        self.specialtyCode = specialtyCode
        self.organisationID = organisationID
        self.role = role
        self.locale = locale
        self.isAdmin = isAdmin
        self.totpEnabled = totpEnabled
        self.disabledAt = disabledAt
    }

    public var isDisabled: Bool { disabledAt != nil }

    /// A platform administrator, by flag or by role.
    public var isPlatformAdmin: Bool { isAdmin || role == .admin }
}

extension User {
    /// The specialty to show: the curated one's label, else the free text.
    public var specialtyLabel: String? { specialtyCode.flatMap(Specialty.find(code:))?.label ?? specialty }
}

/// E-mail addresses are compared case-insensitively; we store them lowercased.
public enum EmailAddress {
    public static func normalize(_ raw: String) -> String {
        raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// Deliberately loose: one "@", something on each side, a dot in the domain, no spaces.
    public static func isPlausible(_ raw: String) -> Bool {
        let email = normalize(raw)
        guard email.count <= 254, !email.contains(where: \.isWhitespace) else { return false }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains(".") else { return false }
        return !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
    }
}

/// Password rules for accounts created by admins or the CLI.
public enum PasswordRules {
    public static let minimumLength = 10
    /// bcrypt only reads the first 72 bytes: longer passwords are refused rather than silently truncated.
    public static let maximumBytes = 72

    public enum Problem: Equatable, Sendable {
        case tooShort
        case tooLong
    }

    public static func problem(with password: String) -> Problem? {
        if password.count < minimumLength { return .tooShort }
        if password.utf8.count > maximumBytes { return .tooLong }
        return nil
    }
}
