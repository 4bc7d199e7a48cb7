import ConcertoCore
import Foundation

/// A health professional as Pro Santé Connect vouches for them (its userinfo).
public struct PSCProfessional: Sendable, Equatable {
    public typealias Site = PracticeSite

    /// The provider's subject (`sub`), stable per professional.
    public var subject: String
    public var rpps: RPPSNumber
    public var givenName: String
    public var familyName: String
    /// `DR` for doctors (*codeCiviliteDExercice*).
    public var civility: String?
    /// *codeProfession* of the first practice (10: médecin).
    public var professionCode: String?
    /// The specialty in Concerto's list (`G15_<profession>/<savoir-faire>`), when PSC gives
    /// one Concerto knows.
    public var specialtyCode: String?
    /// FINESS sites of every practice, in the order PSC lists them, without repeats.
    public var sites: [Site]

    public init(subject: String, rpps: RPPSNumber, givenName: String, familyName: String, civility: String? = nil,
                professionCode: String? = nil, specialtyCode: String? = nil, sites: [Site] = []) {
        self.subject = subject
        self.rpps = rpps
        self.givenName = givenName
        self.familyName = familyName
        self.civility = civility
        self.professionCode = professionCode
        self.specialtyCode = specialtyCode
        self.sites = sites
    }

    /// "Dr Olivier Oncologue", as Concerto's directory writes names.
    public var displayName: String {
        let name = "\(givenName) \(familyName)".trimmingCharacters(in: .whitespaces)
        return civility?.uppercased() == "DR" ? "Dr \(name)" : name
    }
}

public enum UserInfoProblem: Error, Equatable, Sendable {
    case unreadable
    /// `SubjectNameID` is not `8` followed by a valid RPPS (an ADELI number, for instance:
    /// Concerto's boards are for professionals with an RPPS).
    case notAnRPPSIdentity
    case missingName
}

extension PSCProfessional {
    /// Reads PSC's userinfo claims (JSON object).
    public init(userinfo data: Data) throws(UserInfoProblem) {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw .unreadable }
        try self.init(claims: object)
    }

    public init(claims object: [String: Any]) throws(UserInfoProblem) {
        guard let subject = object["sub"] as? String, !subject.isEmpty else { throw .unreadable }
        // IdNat_PS: "8" + RPPS for professionals in the RPPS (other prefixes: ADELI and others).
        guard let nationalID = object["SubjectNameID"] as? String, nationalID.count == 12, nationalID.hasPrefix("8"),
              let rpps = RPPSNumber(String(nationalID.dropFirst())) else { throw .notAnRPPSIdentity }
        let reference = object["SubjectRefPro"] as? [String: Any]
        let practices = reference?["exercices"] as? [[String: Any]] ?? []
        let first = practices.first
        let givenName = Self.text(object["given_name"]) ?? Self.text(first?["prenomDExercice"])
        let familyName = Self.text(object["family_name"]) ?? Self.text(first?["nomDExercice"])
        guard let givenName, let familyName else { throw .missingName }
        var sites: [Site] = []
        for practice in practices {
            for activity in practice["activities"] as? [[String: Any]] ?? [] {
                guard let finess = Self.text(activity["numeroFinessSite"]), FINESSNumber(finess) != nil,
                      !sites.contains(where: { $0.finess == finess }) else { continue }
                sites.append(Site(finess: finess, name: Self.text(activity["raisonSocialeSite"]) ?? finess))
            }
        }
        let specialty = practices.lazy.compactMap { practice -> String? in
            guard let profession = Self.text(practice["codeProfession"]), let savoirFaire = Self.text(practice["codeSavoirFaire"]) else { return nil }
            let code = "G15_\(profession)/\(savoirFaire)"
            return Specialty.find(code: code) != nil ? code : nil
        }.first
        self.init(subject: subject, rpps: rpps, givenName: givenName, familyName: familyName,
                  civility: Self.text(first?["codeCiviliteDExercice"]) ?? Self.text(reference?["codeCivilite"]),
                  professionCode: Self.text(first?["codeProfession"]), specialtyCode: specialty, sites: sites)
    }

    /// A non-empty trimmed string, bounded (the claims come from outside).
    static func text(_ value: Any?) -> String? {
        guard let string = value as? String else { return nil }
        let trimmed = string.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : String(trimmed.prefix(200))
    }
}
