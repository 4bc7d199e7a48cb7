import ConcertoCore

/// A refused qualification, as the trail records it and as the desk tells the user
/// (the identity desk and the hospital API's trusted-sender qualification).
extension IdentityStatusRules.Refusal {
    var auditReason: String {
        switch self {
        case .notValidated, .notDeclarable, .documentMissing: "not_validated"
        case .insMissing: "ins_missing"
        case .verificationFailed(.unknown): "ins_unknown"
        case .verificationFailed(.traitsDiffer(let traits)): "traits_differ:" + traits.joined(separator: ",")
        case .verificationFailed(.confirmed): "verification_failed"
        }
    }

    var messageKey: String {
        switch self {
        case .notValidated, .notDeclarable, .documentMissing: "flash_identity_not_validated"
        case .insMissing: "flash_identity_ins_missing"
        case .verificationFailed(.unknown), .verificationFailed(.confirmed): "flash_identity_ins_unknown"
        case .verificationFailed(.traitsDiffer): "flash_identity_traits_differ"
        }
    }
}
