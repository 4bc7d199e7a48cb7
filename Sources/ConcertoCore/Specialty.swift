/// The specialties that sit on tumour boards, with their codes in the CI-SIS value set
/// `JDV_J01_XdsAuthorSpecialty_CISIS` (so exports carry the national code); a test
/// checks each code and label against the value set in `../shared/spec/valuesets/`.
public struct Specialty: Sendable, Hashable, Identifiable {
    /// Groups used for quorum rules and for sorting the list.
    public enum Discipline: String, Sendable, CaseIterable {
        case medicalOncology, surgery, radiotherapy, radiology, nuclearMedicine, pathology
        case haematology, organSpecialist, generalPractice, nursing, coordination
    }

    public let code: String
    public let codeSystem: String
    /// The value set's display name, exported as is.
    public let valueSetLabel: String
    /// Short label for the interface.
    public let label: String
    public let discipline: Discipline

    public var id: String { code }

    static let g15 = "1.2.250.1.213.1.1.4.5"

    public static let all: [Specialty] = [
        .init(code: "G15_10/SM36", codeSystem: g15, valueSetLabel: "Médecin - Oncologie, opt médicale (SM)", label: "Oncologie médicale", discipline: .medicalOncology),
        .init(code: "G15_10/SM35", codeSystem: g15, valueSetLabel: "Médecin - Oncologie, opt Onco-hématologie (SM)", label: "Oncologie, onco-hématologie", discipline: .medicalOncology),
        .init(code: "G15_10/SM14", codeSystem: g15, valueSetLabel: "Médecin - Chirurgie viscérale et digestive (SM)", label: "Chirurgie viscérale et digestive", discipline: .surgery),
        .init(code: "G15_10/SM05", codeSystem: g15, valueSetLabel: "Médecin - Chirurgie générale (SM)", label: "Chirurgie générale", discipline: .surgery),
        .init(code: "G15_10/SM11", codeSystem: g15, valueSetLabel: "Médecin - Chirurgie thoracique et cardio-vasculaire (SM)", label: "Chirurgie thoracique", discipline: .surgery),
        .init(code: "G15_10/SM12", codeSystem: g15, valueSetLabel: "Médecin - Chirurgie urologique (SM)", label: "Chirurgie urologique", discipline: .surgery),
        .init(code: "G15_10/SM20", codeSystem: g15, valueSetLabel: "Médecin - Gynécologie-obstétrique (SM)", label: "Chirurgie gynécologique (gynécologie-obstétrique)", discipline: .surgery),
        .init(code: "G15_10/SM34", codeSystem: g15, valueSetLabel: "Médecin - ORL et Chirurgie cervico-faciale (SM)", label: "ORL et chirurgie cervico-faciale", discipline: .surgery),
        .init(code: "G15_10/SM31", codeSystem: g15, valueSetLabel: "Médecin - Neuro-chirurgie (SM)", label: "Neurochirurgie", discipline: .surgery),
        .init(code: "G15_10/SM10", codeSystem: g15, valueSetLabel: "Médecin - Chirurgie plastique reconstruct et esthétique (SM)", label: "Chirurgie plastique et reconstructrice", discipline: .surgery),
        .init(code: "G15_10/SM08", codeSystem: g15, valueSetLabel: "Médecin - Chirurgie orthopédique et Traumatologie (SM)", label: "Chirurgie orthopédique", discipline: .surgery),
        .init(code: "G15_10/SM69", codeSystem: g15, valueSetLabel: "Médecin - Chirurgie pédiatrique option chirurgie viscérale pédiatrique (SM)", label: "Chirurgie pédiatrique", discipline: .surgery),
        .init(code: "G15_10/SM37", codeSystem: g15, valueSetLabel: "Médecin - Oncologie, opt radiothérapie (SM)", label: "Oncologie radiothérapie", discipline: .radiotherapy),
        .init(code: "G15_10/SM45", codeSystem: g15, valueSetLabel: "Médecin - Radio-thérapie (SM)", label: "Radiothérapie", discipline: .radiotherapy),
        .init(code: "G15_10/SM74", codeSystem: g15, valueSetLabel: "Médecin - Radiologie et imagerie médicale (SM)", label: "Radiologie et imagerie médicale", discipline: .radiology),
        .init(code: "G15_10/SM44", codeSystem: g15, valueSetLabel: "Médecin - Radio-diagnostic (SM)", label: "Radiodiagnostic", discipline: .radiology),
        .init(code: "G15_10/SM28", codeSystem: g15, valueSetLabel: "Médecin - Médecine nucléaire (SM)", label: "Médecine nucléaire", discipline: .nuclearMedicine),
        .init(code: "G15_10/SM01", codeSystem: g15, valueSetLabel: "Médecin - Anatomie et Cytologie pathologiques (SM)", label: "Anatomie et cytologie pathologiques", discipline: .pathology),
        .init(code: "G15_10/SM71", codeSystem: g15, valueSetLabel: "Médecin - Hématologie (réforme 2017) (SM)", label: "Hématologie", discipline: .haematology),
        .init(code: "G15_10/SM24", codeSystem: g15, valueSetLabel: "Médecin - Gastro-entérologie et hépatologie (SM)", label: "Gastro-entérologie et hépatologie", discipline: .organSpecialist),
        .init(code: "G15_10/SM41", codeSystem: g15, valueSetLabel: "Médecin - Pneumologie (SM)", label: "Pneumologie", discipline: .organSpecialist),
        .init(code: "G15_10/SM15", codeSystem: g15, valueSetLabel: "Médecin - Dermatologie et Vénéréologie (SM)", label: "Dermatologie", discipline: .organSpecialist),
        .init(code: "G15_10/SM62", codeSystem: g15, valueSetLabel: "Médecin - Endocrinologie, diabétologie, nutrition (SM)", label: "Endocrinologie", discipline: .organSpecialist),
        .init(code: "G15_10/SM19", codeSystem: g15, valueSetLabel: "Médecin - Gynécologie médicale (SM)", label: "Gynécologie médicale", discipline: .organSpecialist),
        .init(code: "G15_10/SM32", codeSystem: g15, valueSetLabel: "Médecin - Neurologie (SM)", label: "Neurologie", discipline: .organSpecialist),
        .init(code: "G15_10/CEX64", codeSystem: g15, valueSetLabel: "Médecin - Urologie (CEX)", label: "Urologie", discipline: .organSpecialist),
        .init(code: "G15_10/SM40", codeSystem: g15, valueSetLabel: "Médecin - Pédiatrie (SM)", label: "Pédiatrie", discipline: .organSpecialist),
        .init(code: "G15_10/SST03", codeSystem: g15, valueSetLabel: "Médecin - Cancérologie déc. hémato-cancérologie pédiatrique (SST)", label: "Hémato-cancérologie pédiatrique", discipline: .organSpecialist),
        .init(code: "G15_10/SM54", codeSystem: g15, valueSetLabel: "Médecin - Médecine Générale (SM)", label: "Médecine générale", discipline: .generalPractice),
        .init(code: "G15_60", codeSystem: g15, valueSetLabel: "Infirmier", label: "Infirmier·e", discipline: .nursing),
        .init(code: "G15_60/SI02", codeSystem: g15, valueSetLabel: "Infirmier - Exercice infirmier en pratique avancée oncologie et hémato-oncologie (SI)", label: "Infirmier·e en pratique avancée (oncologie)", discipline: .nursing),
        .init(code: "SECRETARIAT_MEDICAL", codeSystem: "1.2.250.1.213.1.1.4.6", valueSetLabel: "Secrétariat médical", label: "Secrétariat médical / coordination RCP", discipline: .coordination),
    ]

    private static let byCode: [String: Specialty] = Dictionary(uniqueKeysWithValues: all.map { ($0.code, $0) })

    public static func find(code: String) -> Specialty? { byCode[code] }
}
