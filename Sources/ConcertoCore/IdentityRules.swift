import Foundation

/// Identifiers a health structure gives (IPP) and accession numbers: they reach DICOM
/// queries, where `*`, `?`, `\` and `,` are matching operators, so only a strict syntax
/// is accepted from anyone.
public enum LocalPatientID {
    /// 1 to 20 of `A-Z a-z 0-9 - _ .`
    public static func isValid(_ ipp: String) -> Bool { isPlain(ipp, maxLength: 20) }

    /// An accession number filter (DICOM SH, 16 characters at most), same characters.
    public static func isValidAccessionNumber(_ value: String) -> Bool { isPlain(value, maxLength: 16) }

    static func isPlain(_ value: String, maxLength: Int) -> Bool {
        let bytes = value.utf8
        guard (1...maxLength).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): true
            default: false
            }
        }
    }
}

/// The high-trust identity documents the national identity rules (RNIV) accept to
/// validate an identity; for a minor, the family record book or a birth certificate
/// with a parent's identity document.
public enum IdentityDocumentType: String, Sendable, Codable, CaseIterable {
    case passport = "passeport"
    case nationalIDCard = "cni"
    case residencePermit = "titre_sejour"
    case familyRecordBook = "livret_famille"
    case birthCertificate = "extrait_naissance"
}

/// What a national INS verification (the INSi teleservice, or its test fixtures) said.
public enum INSVerificationResult: Sendable, Equatable {
    /// The INS exists and its reference traits are this identity's.
    case confirmed
    /// The INS exists but belongs to other traits (named).
    case traitsDiffer([String])
    /// The service does not know this INS.
    case unknown
}

/// Checks an INS and the identity's traits against the national reference (INSi).
public protocol INSVerifier: Sendable {
    /// Names the verifier in proofs and the audit trail ("insi", "fixtures").
    var name: String { get }
    func verify(_ ins: INS, identity: PatientIdentity) async throws -> INSVerificationResult
}

/// Who may set which identity status (RNIV): nobody declares a status the national
/// service or an identity check must give.
public enum IdentityStatusRules {
    public enum Refusal: Error, Equatable, Sendable {
        /// QUAL and RECUP come from the INS teleservice, never from a form.
        case notDeclarable(IdentityStatus)
        /// VALI needs the high-trust identity document that was checked.
        case documentMissing
        /// QUAL needs a validated identity (a recorded document check) first.
        case notValidated
        /// QUAL needs an INS to verify.
        case insMissing
        /// The national verification did not confirm the INS with these traits.
        case verificationFailed(INSVerificationResult)
    }

    /// The status a professional's form may record: PROV, or VALI with the document checked.
    public static func declared(_ requested: IdentityStatus, document: IdentityDocumentType?) -> Result<IdentityStatus, Refusal> {
        switch requested {
        case .provisional: .success(.provisional)
        case .validated: document == nil ? .failure(.documentMissing) : .success(.validated)
        case .qualified, .retrieved: .failure(.notDeclarable(requested))
        }
    }

    /// QUAL from a hospital trusted for identities (its identity desk verified the INS with
    /// the national service before sending it in a document): the document's INS must be the
    /// record's, the same matricule and the same OID, and its traits the record's.
    public static func qualificationFromTrustedSender(of record: PatientIdentity, sent: PatientIdentity?) -> Result<IdentityStatus, Refusal> {
        guard let known = record.ins, let sent, let ins = sent.ins else { return .failure(.insMissing) }
        guard known.matricule == ins.matricule, known.oid == ins.oid else { return .failure(.verificationFailed(.unknown)) }
        let differing = differingTraits(sent, record)
        return differing.isEmpty ? .success(.qualified) : .failure(.verificationFailed(.traitsDiffer(differing)))
    }

    /// The reference traits (RNIV) on which two identities differ: birth name, first
    /// first name, birth date, sex.
    public static func differingTraits(_ reference: PatientIdentity, _ identity: PatientIdentity) -> [String] {
        var differing: [String] = []
        if PatientMatching.normalized(reference.birthName) != PatientMatching.normalized(identity.birthName) { differing.append("birth_name") }
        if PatientMatching.normalized(reference.firstName) != PatientMatching.normalized(identity.firstName) { differing.append("first_name") }
        if reference.birthDate != identity.birthDate { differing.append("birth_date") }
        if reference.sex != identity.sex { differing.append("sex") }
        return differing
    }

    /// QUAL: a validated identity with an INS the national service confirmed for its traits.
    public static func qualification(of identity: PatientIdentity, verification: INSVerificationResult?) -> Result<IdentityStatus, Refusal> {
        guard identity.status == .validated || identity.status == .qualified else { return .failure(.notValidated) }
        guard identity.ins != nil else { return .failure(.insMissing) }
        guard let verification else { return .failure(.insMissing) }
        guard verification == .confirmed else { return .failure(.verificationFailed(verification)) }
        return .success(.qualified)
    }
}
