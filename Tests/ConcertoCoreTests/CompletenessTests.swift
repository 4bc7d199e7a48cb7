import ConcertoCore
import Testing

/// A board's completeness list against a file: each check, when it applies, its level.
@Suite struct CompletenessTests {
    let meetingDay = CalendarDate(iso: "2026-03-12")!
    let rules = CompletenessRules([
        CompletenessItem(.pathologyReport, .required),
        CompletenessItem(.recentImaging(days: 30), .recommended),
        CompletenessItem(.tnmStaged, .required),
        CompletenessItem(.performanceStatus, .recommended),
        CompletenessItem(.molecularResults(sites: ["C34"]), .required),
        CompletenessItem(.question, .required),
        CompletenessItem(.attested(label: "Consultation d'annonce faite"), .recommended),
    ])

    @Test func anEmptyFileMissesEverythingThatApplies() {
        let report = rules.evaluate(CompletenessEvidence(tumourSiteCode: "C34.1", contentFacts: []), meetingDay: meetingDay)
        #expect(report.lines.count == 7 && report.metCount == 0 && !report.isComplete)
        #expect(report.missingRequired.map(\.check) == [.pathologyReport, .tnmStaged, .molecularResults(sites: ["C34"]), .question])
        #expect(report.missingRecommended.count == 3)
    }

    @Test func aCompleteFileMeetsEachItem() {
        let evidence = CompletenessEvidence(
            tumourSiteCode: "C34.1", contentFacts: [.tnm, .performanceStatus, .question],
            reports: [.init(type: "60568-3", day: CalendarDate(iso: "2026-02-01")), .init(type: "51969-4", day: nil)],
            studyDays: [CalendarDate(iso: "2025-12-01"), CalendarDate(iso: "2026-02-10")], attested: ["Consultation d'annonce faite"])
        let report = rules.evaluate(evidence, meetingDay: meetingDay)
        #expect(report.isComplete && report.metCount == 7)
    }

    @Test func imagingMustBeRecentEnoughAndNotAfterTheMeeting() {
        func met(_ day: String?) -> Bool {
            let evidence = CompletenessEvidence(tumourSiteCode: "C50.4", contentFacts: [], studyDays: [day.flatMap(CalendarDate.init(iso:))])
            return CompletenessRules([CompletenessItem(.recentImaging(days: 30), .required)]).evaluate(evidence, meetingDay: meetingDay).isComplete
        }
        #expect(met("2026-02-10") && met("2026-03-12"))
        #expect(!met("2026-02-09") && !met("2026-03-13") && !met(nil))
    }

    @Test func molecularResultsAreAskedOnlyOfTheSitesNamed() {
        let molecular = CompletenessRules([CompletenessItem(.molecularResults(sites: ["C34", "C18.7"]), .required)])
        #expect(molecular.evaluate(CompletenessEvidence(tumourSiteCode: "C50.4", contentFacts: []), meetingDay: meetingDay).lines.isEmpty)
        #expect(molecular.evaluate(CompletenessEvidence(tumourSiteCode: "C18.7", contentFacts: []), meetingDay: meetingDay).missingRequired.count == 1)
        #expect(molecular.evaluate(CompletenessEvidence(tumourSiteCode: "C18.2", contentFacts: []), meetingDay: meetingDay).lines.isEmpty)
        #expect(molecular.evaluate(CompletenessEvidence(tumourSiteCode: "C34.9", contentFacts: []), meetingDay: meetingDay).missingRequired.count == 1)
    }

    @Test func contentFactsFollowTheFiche() {
        #expect(ContentFact.of(CaseContent(tnm: TNM(cT: "T2", cN: "N0", cM: "M0"))) == [.tnm])
        #expect(ContentFact.of(CaseContent(tnm: TNM(cM: "M0", pT: "T1", pN: "N1"))) == [.tnm])
        #expect(ContentFact.of(CaseContent(tnm: TNM(cT: "T2", cN: "N0"))).isEmpty)
        #expect(ContentFact.of(CaseContent(performanceStatusCode: "MED-240", question: "  ")) == [.performanceStatus])
        let all: Set<ContentFact> = [.tnm, .performanceStatus, .question]
        #expect(ContentFact.facts(storageValue: ContentFact.storageValue(all)) == all)
        #expect(ContentFact.storageValue(all) == "tnm performance_status question")
    }

    @Test func aListReadsBackAndItsSettingsAreChecked() {
        #expect(CompletenessRules(storageValue: rules.storageValue) == rules)
        #expect(CompletenessRules(storageValue: "not json") == .none)
        #expect(rules.problems().isEmpty)
        #expect(CompletenessRules([CompletenessItem(.recentImaging(days: 0), .required)]).problems() == [.invalidImagingDays])
        #expect(CompletenessRules([CompletenessItem(.molecularResults(sites: []), .required)]).problems() == [.noMolecularSite])
        #expect(CompletenessRules([CompletenessItem(.molecularResults(sites: ["Z99"]), .required)]).problems() == [.unknownMolecularSite])
        #expect(CompletenessRules([CompletenessItem(.attested(label: " "), .required)]).problems() == [.emptyAttestation])
    }
}
