import ConcertoCore
import Foundation

/// Whether a document is about a given patient. The INS decides when both sides have a
/// valid one; otherwise matching traits only make the document a candidate a person
/// must confirm. Never a silent merge: a mismatch is refused with the reason.
public enum DocumentPatientCheck: Sendable, Equatable {
    /// Same INS matricule.
    case sameINS
    /// No INS to compare, and birth name or used name, first name, birth date and sex
    /// agree: a person confirms before the document is filed.
    case traitsNeedConfirmation
    case otherPatient(Mismatch)

    public enum Mismatch: String, Sendable, Equatable {
        /// Both have an INS and they differ.
        case differentINS = "different_ins"
        /// Traits differ (birth date, sex, first name or names).
        case differentTraits = "different_traits"
        /// The document names no patient at all.
        case noPatient = "no_patient"
    }

    public static func check(_ document: CDAPatient?, against patient: PatientIdentity) -> DocumentPatientCheck {
        guard let document else { return .otherPatient(.noPatient) }
        if let ins = document.ins, ins.isValid, let known = patient.ins {
            return ins.value.uppercased() == known.matricule ? .sameINS : .otherPatient(.differentINS)
        }
        guard let identity = document.identity else { return .otherPatient(.differentTraits) }
        return PatientMatching.match(identity, patient) == nil ? .otherPatient(.differentTraits) : .traitsNeedConfirmation
    }
}

extension CDAPatient {
    /// The document's traits as a patient identity, when it gives enough of them.
    public var identity: PatientIdentity? {
        guard let birthName = birthName ?? usedName, let firstNames = given.first, let date = birthDate?.date else { return nil }
        let ins = self.ins.flatMap { $0.isValid ? try? INS(matricule: $0.value, kind: $0.kind) : nil }
        let sex: AdministrativeSex = switch self.sex {
        case "F": .female
        case "M": .male
        default: .undetermined
        }
        return PatientIdentity(birthName: birthName, firstNames: firstNames, firstName: firstName, usedName: usedName,
                               birthDate: date, sex: sex, birthPlaceCode: birthPlaceCode, ins: ins, status: .provisional)
    }
}
