import ConcertoCore
import Foundation
import Testing

@testable import DICOMweb

@Suite("DICOM JSON model (PS3.18 annex F)")
struct DICOMJSONTests {
    static let studies = """
    [{
      "00080005": {"vr": "CS", "Value": ["ISO_IR 192"]},
      "00080020": {"vr": "DA", "Value": ["20261120"]},
      "00080030": {"vr": "TM", "Value": ["093000.123"]},
      "00080050": {"vr": "SH", "Value": ["ACC-1"]},
      "00080061": {"vr": "CS", "Value": ["CT", "PT", "ct"]},
      "00080090": {"vr": "PN"},
      "00081030": {"vr": "LO", "Value": ["TEP-TDM au 18F-FDG"]},
      "00100010": {"vr": "PN", "Value": [{"Alphabetic": "DUPONT^Marie Louise", "Ideographic": "デュポン"}]},
      "00100020": {"vr": "LO", "Value": ["261053306312304"]},
      "00100021": {"vr": "LO", "Value": ["1.2.250.1.213.1.4.10"]},
      "0020000d": {"vr": "UI", "Value": ["1.2.3.4"]},
      "00201206": {"vr": "IS", "Value": [2]},
      "00201208": {"vr": "IS", "Value": ["6"]},
      "7FE00010": {"vr": "OB", "BulkDataURI": "http://x/bulk"},
      "00400275": {"vr": "SQ", "Value": [{"00400009": {"vr": "SH", "Value": ["SPS1"]}}, {"00400009": {"vr": "SH", "Value": ["SPS2"]}}]}
    },
    {"00080020": {"vr": "DA", "Value": ["2025.10.26"]}, "0020000D": {"vr": "UI", "Value": ["1.2.3.5"]}},
    {"0020000D": {"vr": "UI", "Value": ["not a uid"]}},
    {"0020000D": {"vr": "UI", "Value": ["1.2.3.6"]}}]
    """

    @Test func readsNamesDatesCountsAndMultiValuedFields() throws {
        let datasets = try JSONDecoder().decode([DICOMDataset].self, from: Data(Self.studies.utf8))
        #expect(datasets.count == 4)
        let first = try #require(StudySummary(datasets[0]))
        #expect(first.studyInstanceUID == "1.2.3.4")
        #expect(first.date == CalendarDate(year: 2026, month: 11, day: 20))
        #expect(first.modalities == ["CT", "PT"])
        #expect(first.seriesCount == 2 && first.instanceCount == 6)
        #expect(first.description == "TEP-TDM au 18F-FDG")
        #expect(first.patientName?.familyName == "DUPONT" && first.patientName?.givenName == "Marie Louise")
        #expect(first.patientName?.display == "Marie Louise DUPONT")
        #expect(first.issuer == "1.2.250.1.213.1.4.10")
        #expect(datasets[0].sequence(DICOMTag("00400275")).compactMap { $0.string(DICOMTag("00400009")) } == ["SPS1", "SPS2"])
        #expect(datasets[0][DICOMTag("7FE00010")]?.bulkDataURI == "http://x/bulk")
        #expect(datasets[0].string(.referringPhysicianName) == nil)
        // Old-style dates, invalid UIDs dropped.
        #expect(StudySummary(datasets[1])?.date == CalendarDate(year: 2025, month: 10, day: 26))
        #expect(StudySummary(datasets[2]) == nil)
        let sorted = datasets.compactMap(StudySummary.init).sorted(by: StudySummary.newestFirst).map(\.studyInstanceUID)
        #expect(sorted == ["1.2.3.4", "1.2.3.5", "1.2.3.6"])
    }

    @Test func theScannerAndTheDecoderReadTheSameModel() throws {
        let data = Data(Self.studies.utf8)
        #expect(try DICOMDataset.decodeList(data) == (try JSONDecoder().decode([DICOMDataset].self, from: data)))
    }

    @Test func scannerHandlesEscapesNumbersAndRefusesMalformedOrHostileAnswers() throws {
        let escaped = #"[{"00081030": {"vr": "LO", "Value": ["TEP \"FDG\"\n\u00e9\ud83d\ude00\/x", "\u0000"]}, "00201206": {"vr": "IS", "Value": [-1.5e2, "7 "]}}]"#
        let dataset = try #require(try DICOMDataset.decodeList(Data(escaped.utf8)).first)
        #expect(dataset.strings(.studyDescription) == ["TEP \"FDG\"\né\u{1F600}/x", "\u{0}"])
        #expect(dataset[.numberOfStudyRelatedSeries]?.values == [.number(-150), .number(7)])
        #expect(try DICOMDataset.decodeList(Data("[]".utf8)).isEmpty)
        #expect(try DICOMDataset.decodeList(Data(" [ { } ] ".utf8)) == [DICOMDataset()])
        let malformed = ["", "[", "[{]", #"{"a": 1}"#, #"[{"x": {"vr": "LO", "Value": [tru]}}]"#, "[1,]", #"["\u12"]"#, "[01x]", "[\"a\nb\"]",
                         #"[{"x": {"vr": "LO", "Value": [[1]]}}]"#, "[] []", "[-]", "[1.]", "[1e]", #"["\ud800\u0041"]"#]
        for text in malformed {
            #expect(throws: (any Error).self, "\(text)") { try DICOMDataset.decodeList(Data(text.utf8)) }
        }
        // Nesting is bounded: a hostile exchange cannot exhaust the stack.
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONScanner.Failure.tooDeep) { try JSONScanner.parse(Data(deep.utf8)) }
    }

    @Test func uidSyntax() {
        #expect(DICOMUIDSyntax.isValid("1.2.840.10008.5.1.4.1.1.2"))
        #expect(DICOMUIDSyntax.isValid("2.25.211781822107005471002125450703290035"))
        for bad in ["", "1..2", "1.02", "1.2.", "../../etc", "1.2.3/../x", String(repeating: "1.", count: 40) + "1", "1.2.3?x=1"] {
            #expect(!DICOMUIDSyntax.isValid(bad), "\(bad)")
        }
    }

    @Test func queryParameters() {
        let query = StudyQuery(patient: PatientIdentifier(id: "261053306312304", issuer: "1.2.250.1.213.1.4.10"),
                               from: CalendarDate(year: 2023, month: 11, day: 30), to: nil, modalities: ["CT", "MR"], limit: 25, offset: 50)
        let items = Dictionary(query.queryItems.filter { $0.name != "includefield" }.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        #expect(items["PatientID"] == "261053306312304")
        #expect(items["00100021"] == "1.2.250.1.213.1.4.10")
        #expect(items["StudyDate"] == "20231130-")
        #expect(items["ModalitiesInStudy"] == "CT,MR")
        #expect(items["limit"] == "25" && items["offset"] == "50")
        #expect(query.queryItems.filter { $0.name == "includefield" }.count == StudyQuery.includedFields.count)
        #expect(DICOMDate.range(from: nil, to: CalendarDate(year: 2020, month: 1, day: 2)) == "-20200102")
    }

    @Test func keySeriesPrefersImagesWithMostInstances() throws {
        func series(_ uid: String, _ modality: String, _ count: Int) throws -> SeriesSummary {
            try #require(SeriesSummary(DICOMDataset(attributes: [
                DICOMTag.seriesInstanceUID.key: DICOMAttribute(vr: "UI", values: [.string(uid)]),
                DICOMTag.modality.key: DICOMAttribute(vr: "CS", values: [.string(modality)]),
                DICOMTag.numberOfSeriesRelatedInstances.key: DICOMAttribute(vr: "IS", values: [.number(Double(count))]),
            ])))
        }
        let list = [try series("1.1", "SR", 40), try series("1.2", "CT", 3), try series("1.3", "CT", 12), try series("1.4", "PT", 12)]
        #expect(SeriesSummary.keySeries(list)?.seriesInstanceUID == "1.3")
        #expect(SeriesSummary.keySeries([]) == nil)
    }

    @Test func breakerOpensAfterRepeatedFailuresAndLetsOneTrialThrough() {
        let breaker = CircuitBreaker(failureThreshold: 3, openInterval: 10)
        let start = Date()
        for _ in 0..<2 { #expect(breaker.permit(at: start)); breaker.recordFailure(at: start) }
        #expect(breaker.state == .closed)
        #expect(breaker.permit(at: start)); breaker.recordFailure(at: start)
        #expect(!breaker.permit(at: start.addingTimeInterval(5)))
        // Half-open: one trial, others wait for its outcome.
        #expect(breaker.permit(at: start.addingTimeInterval(11)))
        #expect(!breaker.permit(at: start.addingTimeInterval(11)))
        breaker.recordFailure(at: start.addingTimeInterval(11))
        #expect(!breaker.permit(at: start.addingTimeInterval(12)))
        #expect(breaker.permit(at: start.addingTimeInterval(22)))
        breaker.recordSuccess()
        #expect(breaker.state == .closed && breaker.failingSince == nil)
        #expect(breaker.permit(at: start.addingTimeInterval(22)))
    }

    @Test func exchangeConfigurationFile() throws {
        let json = """
        {"exchanges": [{"id": "krypton", "name": "Krypton", "baseURL": "https://pacs.example/dicom-web",
          "auth": {"type": "basic", "user": "concerto", "password": "s3cret"},
          "viewerURLTemplate": "{base}/viewer?StudyInstanceUIDs={study}"},
         {"id": "drimm", "baseURL": "https://drimm.example/dicomweb/", "auth": {"type": "bearer", "token": "abc"}, "requestTimeoutSeconds": 5}]}
        """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("exchanges-\(UUID()).json")
        try Data(json.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let directory = try ExchangeDirectory.load(defaultURL: "http://127.0.0.1:8042/dicom-web", configFile: file.path)
        #expect(directory.exchanges.map(\.id) == ["default", "krypton", "drimm"])
        let krypton = try #require(directory.exchange(id: "krypton"))
        #expect(krypton.auth.headerValue == "Basic " + Data("concerto:s3cret".utf8).base64EncodedString())
        #expect(krypton.viewerURL(study: "1.2.3") == "https://pacs.example/dicom-web/viewer?StudyInstanceUIDs=1.2.3")
        #expect(krypton.viewerURL(study: "1.2.3\"><script>") == nil)
        #expect(directory.exchange(id: "drimm")?.auth.headerValue == "Bearer abc")
        #expect(directory.exchange(id: "drimm")?.requestTimeoutSeconds == 5)
        #expect(throws: ExchangeConfigurationError.self) {
            try ExchangeDirectory(exchanges: [ExchangeConfiguration(id: "x", name: "x", baseURL: "ftp://nope")])
        }
        #expect(throws: ExchangeConfigurationError.self) {
            try ExchangeDirectory.load(defaultURL: nil, configFile: "/nonexistent/exchanges.json")
        }
    }
}

/// What an exchange returns is checked against the patient before anyone sees or attaches it.
@Suite("Security: study ownership") struct StudyOwnershipTests {
    let ins = PatientIdentifier(id: "261053306312304", issuer: "1.2.250.1.213.1.4.10")
    let birth = CalendarDate(year: 1961, month: 5, day: 12)!

    func study(id: String? = "261053306312304", issuer: String? = "1.2.250.1.213.1.4.10", birth: CalendarDate? = nil, sex: String? = nil) -> StudySummary {
        StudySummary(studyInstanceUID: "1.2.3", patientID: id, issuer: issuer, patientBirthDate: birth, patientSex: sex)
    }

    @Test func onlyTheExactIdentifierAndAgreeingTraitsPass() {
        #expect(study().ownershipMismatch(identifiers: [ins], birthDate: birth, sex: .female) == nil)
        #expect(study(birth: birth, sex: "F").ownershipMismatch(identifiers: [ins], birthDate: birth, sex: .female) == nil)
        #expect(study(sex: "O").ownershipMismatch(identifiers: [ins], birthDate: birth, sex: .female) == nil)
        // Same number, another authority (an IPP of a hospital, or no issuer at all).
        #expect(study(issuer: "330000662").ownershipMismatch(identifiers: [ins], birthDate: birth, sex: .female) == .identifier)
        #expect(study(issuer: nil).ownershipMismatch(identifiers: [ins], birthDate: birth, sex: .female) == .identifier)
        #expect(study(id: "261053306312304 ").ownershipMismatch(identifiers: [ins], birthDate: birth, sex: .female) == .identifier)
        #expect(study(id: nil).ownershipMismatch(identifiers: [ins], birthDate: birth, sex: .female) == .identifier)
        #expect(study(birth: CalendarDate(year: 1961, month: 5, day: 13)).ownershipMismatch(identifiers: [ins], birthDate: birth, sex: .female) == .birthDate)
        #expect(study(sex: "M").ownershipMismatch(identifiers: [ins], birthDate: birth, sex: .female) == .sex)
    }
}
