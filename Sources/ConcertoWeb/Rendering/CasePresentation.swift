import ConcertoCore
import ConcertoServices
import ConcertoStore
import Foundation

/// A fiche's content and decision as the case page, the agenda, the séance and the live
/// page show them.
enum CasePresentation {
    static func label(_ terminology: Terminology, _ code: String?) -> String? {
        code.map { code in terminology.concept(code).map { "\($0.label)" } ?? code }
    }

    static func contentFields(_ content: CaseContent, pages: PageBuilder) -> ViewFields {
        ViewFields(contentValues(content, pages: pages))
    }

    /// The same, to merge into a larger block (the séance's case panel).
    static func contentValues(_ content: CaseContent, pages: PageBuilder) -> [String: (any Sendable)?] {
        [
            "presentationReason": content.presentationReason.map { pages.text("presentation_\($0.rawValue)") },
            "discoveryMode": content.discoveryMode.map { pages.text("discovery_\($0.rawValue)") },
            "site": content.tumourSiteCode.map { "\($0) · \(Terminology.tumourSites.concept($0)?.label ?? "")" },
            "morphology": content.morphology, "laterality": label(.lateralities, content.lateralityCode),
            "tnm": content.tnm.summary.isEmpty ? nil : content.tnm.summary + (content.tnm.edition.map { " (\(pages.text("case_tnm_edition")) \($0))" } ?? ""),
            "performanceStatus": label(.performanceStatuses, content.performanceStatusCode),
            "history": content.history, "comorbidities": content.comorbidities, "phase": label(.cancerPhases, content.phaseCode),
            "previousTreatments": content.previousTreatments, "summary": content.summary, "question": content.question,
        ]
    }

    static func decisionFields(_ decision: CaseDecision, pages: PageBuilder) -> ViewFields {
        ViewFields([
            "types": decision.proposalTypes.map { pages.text("proposal_\($0.rawValue)") }.joined(separator: ", "),
            "proposal": decision.proposal,
            "guidelines": pages.text(decision.followsGuidelines ? "yes" : "no"), "deviation": decision.guidelinesDeviationReason,
            "trial": pages.text(decision.trialProposed ? "yes" : "no"), "trialReference": decision.trialReference,
            "fileComplete": pages.text(decision.fileComplete ? "yes" : "no"),
            // Plain booleans: inside the séance an absent key would find the live quorum.
            "quorum": pages.text(decision.quorumMet ? "quorum_met" : "quorum_not_met"), "quorumMet": decision.quorumMet,
            "withoutQuorum": decision.recordedWithoutQuorum,
        ])
    }

    /// What the séance and the live séance show of the case under discussion once the
    /// policy allows it: its content, its studies (read from the database only), its
    /// decision, and the proposal types to tick (`checked`: those already chosen).
    static func panelValues(_ record: CaseRecord, attached: [AttachedStudy], checked: [ProposalType], imaging: ImagingService,
                            pages: PageBuilder) -> [String: (any Sendable)?] {
        var values = contentValues(record.content, pages: pages)
        values["attached"] = StudyPresentation.attachedFields(attached, caseID: record.id, mayDetach: false, imaging: imaging, pages: pages)
        values["hasAttached"] = attached.isEmpty ? nil : true
        values["decision"] = record.decision.map { decisionFields($0, pages: pages) }
        values["decisionURL"] = SiteURL.caseDecision(record.id).path
        values["proposalTypes"] = ProposalType.allCases.map { type in
            ViewFields(["value": type.rawValue, "label": pages.text("proposal_\(type.rawValue)"), "checked": checked.contains(type) ? true : nil])
        }
        return values
    }
}
