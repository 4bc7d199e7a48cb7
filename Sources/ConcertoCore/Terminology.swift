/// A coded list from a CI-SIS value set (tumour sites, phases, treatment types...), kept as
/// the project's own data in `Terminology+ValueSets.swift` so forms offer exactly the codes
/// exports carry.
public struct Terminology: Sendable {
    public struct Concept: Sendable, Hashable {
        public let code: String
        public let codeSystem: String
        public let label: String
    }

    public let valueSet: String
    public let concepts: [Concept]
    private let byCode: [String: Concept]

    init(valueSet: String, concepts: [Concept]) {
        self.valueSet = valueSet
        self.concepts = concepts
        // Some value sets repeat a code under two labels; the first one wins.
        self.byCode = concepts.reduce(into: [:]) { found, concept in
            if found[concept.code] == nil { found[concept.code] = concept }
        }
    }

    public func concept(_ code: String) -> Concept? { byCode[code] }
    public func contains(_ code: String) -> Bool { byCode[code] != nil }
}
