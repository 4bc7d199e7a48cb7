import ConcertoCore
import Foundation
import Testing

@Suite struct IdentifierTests {
    @Test(arguments: ["330781196", "330000662", "640780417", "2A0000016", " 33 078 119 6 "])
    func validFINESSNumbersAreAccepted(raw: String) {
        #expect(FINESSNumber(raw) != nil)
    }

    @Test(arguments: ["330781197", "33078119", "3307811960", "33O781196", "2C0000016", "", "2A0000017"])
    func invalidFINESSNumbersAreRefused(raw: String) {
        #expect(FINESSNumber(raw) == nil)
    }

    @Test func theINSKeyIs97MinusTheNumberModulo97() {
        // 2 61 05 33 063 123 -> 2610533063123 mod 97 = 93, key 04.
        #expect((try? INS.validate("261053306312304").get()) == "261053306312304")
        #expect(INS.validate("261053306312305") == .failure(.wrongKey))
        #expect(INS.validate("2 61 05 33 063 123 04") == .success("261053306312304"))
    }

    @Test func corsicanDepartmentsAreReadAs19And18() {
        // 2A -> 19 for the key: 2550219004031 mod 97 gives key 65.
        #expect(INS.validate("255022A00403165") == .success("255022A00403165"))
        #expect(INS.validate("255022B00403165") == .failure(.wrongKey))
        let key2B = 97 - Int(UInt64("2550218004031")! % 97)
        #expect(INS.validate("255022B004031" + String(format: "%02d", key2B)) == .success("255022B004031" + String(format: "%02d", key2B)))
    }

    @Test func malformedMatriculesAreRefusedWithTheReason() {
        #expect(INS.validate("26105330631230") == .failure(.wrongLength))
        #expect(INS.validate("2610533063123045") == .failure(.wrongLength))
        #expect(INS.validate("26105330631230X") == .failure(.invalidCharacters))
        #expect(INS.validate("2610533O6312304") == .failure(.invalidCharacters))
        #expect(INS.validate("٢٦١٠٥٣٣٠٦٣١٢٣٠٤") == .failure(.invalidCharacters))
        #expect(throws: INS.Problem.wrongKey) { try INS(matricule: "261053306312399", kind: .nir) }
    }

    @Test func eachINSKindHasItsOID() {
        #expect(INSKind.nir.oid == "1.2.250.1.213.1.4.8")
        #expect(INSKind.nia.oid == "1.2.250.1.213.1.4.9")
        #expect(INSKind.test.oid == "1.2.250.1.213.1.4.10")
        #expect(INSKind.demo.oid == "1.2.250.1.213.1.4.11")
        for kind in INSKind.allCases { #expect(INSKind(oid: kind.oid) == kind) }
        #expect(INSKind(oid: "1.2.250.1.213.1.4.1") == nil)
    }
}

@Suite struct PatientIdentityTests {
    static let ins = try! INS(matricule: "261053306312304", kind: .test)

    static func identity(status: IdentityStatus, ins: INS? = Self.ins) -> PatientIdentity {
        PatientIdentity(birthName: "DUPONT", firstNames: "Marie Louise", usedName: "MARTIN", birthDate: CalendarDate(iso: "1961-05-12")!,
                        sex: .female, birthPlaceCode: "33063", ins: ins, status: status)
    }

    @Test func theINSIsUsableOnlyForAQualifiedIdentity() {
        #expect(Self.identity(status: .qualified).usableINS == Self.ins)
        for status in [IdentityStatus.provisional, .retrieved, .validated] {
            #expect(Self.identity(status: status).usableINS == nil, "\(status)")
        }
    }

    @Test func theFirstFirstNameIsTakenFromTheList() {
        #expect(Self.identity(status: .qualified).firstName == "Marie")
        #expect(Self.identity(status: .qualified).displayName == "MARTIN Marie")
    }

    @Test func identityRulesAreChecked() {
        #expect(Self.identity(status: .qualified).problems().isEmpty)
        #expect(Self.identity(status: .qualified, ins: nil).problems() == [.qualifiedWithoutINS])
        var identity = Self.identity(status: .provisional)
        identity.birthName = " "
        identity.birthPlaceCode = "3306"
        #expect(identity.problems() == [.birthNameMissing, .birthPlaceInvalid])
        #expect(PatientIdentity.isINSEEPlaceCode("2A004"))
        #expect(PatientIdentity.isINSEEPlaceCode("99134"))
        #expect(!PatientIdentity.isINSEEPlaceCode("2C004"))
    }

    @Test func calendarDatesRefuseImpossibleDays() {
        #expect(CalendarDate(iso: "2024-02-29") != nil)
        #expect(CalendarDate(iso: "2023-02-29") == nil)
        #expect(CalendarDate(iso: "1961-13-01") == nil)
        #expect(CalendarDate(iso: "12/05/1961") == nil)
        #expect(CalendarDate(iso: "1961-05-12")?.french == "12/05/1961")
    }

    /// The month lengths are computed, not asked of a Calendar: the same days as Foundation's
    /// Gregorian calendar, century years and the range's ends included.
    @Test func calendarDatesAgreeWithFoundationsCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for year in [1850, 1851, 1896, 1900, 1904, 1999, 2000, 2023, 2024, 2100, 2104, 2199, 2200] {
            for month in 1...12 {
                for day in -1...32 {
                    let real = day >= 1 && calendar.date(from: DateComponents(year: year, month: month, day: day))
                        .map { calendar.component(.day, from: $0) == day } == true
                    #expect((CalendarDate(year: year, month: month, day: day) != nil) == real, "\(year)-\(month)-\(day)")
                }
            }
        }
        #expect(CalendarDate(year: 1849, month: 12, day: 31) == nil)
        #expect(CalendarDate(year: 2201, month: 1, day: 1) == nil)
    }

    @Test func matchingFindsTheSamePersonByINSOrTraits() {
        let qualified = Self.identity(status: .qualified)
        var provisional = Self.identity(status: .provisional, ins: nil)
        provisional.birthName = "Dupont"
        provisional.firstNames = "Marie"
        provisional.firstName = "Marie"
        #expect(PatientMatching.match(provisional, qualified) == .traits)
        #expect(PatientMatching.match(qualified, qualified) == .ins)
        // Used name crossed with birth name, accents and hyphens ignored.
        var married = provisional
        married.birthName = "MARTÎN"
        married.usedName = nil
        #expect(PatientMatching.match(married, qualified) == .traits)
        var other = provisional
        other.birthDate = CalendarDate(iso: "1961-05-13")!
        #expect(PatientMatching.match(other, qualified) == nil)
        other = provisional
        other.firstName = "Louise"
        #expect(PatientMatching.match(other, qualified) == nil)
        #expect(PatientMatching.normalized("Le Gall-Hervé") == "LEGALLHERVE")
    }
}

@Suite struct SpecialtyTests {
    /// Each curated code exists in the CI-SIS value set with the same display name.
    @Test func curatedSpecialtiesComeFromTheCISISValueSet() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/spec/valuesets/JDV_J01_XdsAuthorSpecialty_CISIS.xml")
        let text = try String(contentsOf: url, encoding: .utf8)
        var concepts: [String: (system: String, label: String)] = [:]
        for match in text.matches(of: #/<Concept code="([^"]*)"\s+codeSystem="([^"]*)"\s+displayName="([^"]*)"/#) {
            concepts[String(match.1)] = (String(match.2), String(match.3).replacingOccurrences(of: "&apos;", with: "'"))
        }
        #expect(concepts.count > 300)
        for specialty in Specialty.all {
            let concept = try #require(concepts[specialty.code], "\(specialty.code)")
            #expect(concept.system == specialty.codeSystem, "\(specialty.code)")
            #expect(concept.label == specialty.valueSetLabel, "\(specialty.code)")
        }
        #expect(Set(Specialty.all.map(\.code)).count == Specialty.all.count)
        for discipline in Specialty.Discipline.allCases {
            #expect(Specialty.all.contains { $0.discipline == discipline }, "\(discipline)")
        }
    }
}
