import CDA
import ConcertoStore
import Foundation

/// A personalised care plan's items as the patient and document pages list them: what,
/// carried out or planned, and when.
enum CarePlanPresentation {
    static func items(_ record: DocumentRecord, pages: PageBuilder) -> [ViewFields] {
        let items = (try? JSONDecoder().decode([CarePlanItem].self, from: Data(record.carePlanJSON.utf8))) ?? []
        return items.map { item in
            let confirmed = span(item.start, item.end), planned = span(item.plannedStart, item.plannedEnd)
            return ViewFields([
                "kind": kindLabel(item.kind, pages: pages),
                "what": item.what?.displayName ?? item.what?.code,
                "status": pages.text(item.done ? "care_plan_done" : "care_plan_planned"),
                "done": item.done ? true : nil,
                "dates": confirmed ?? planned.map { pages.text("care_plan_planned_dates", ["dates": $0]) },
            ])
        }
    }

    static func kindLabel(_ kind: CodedValue, pages: PageBuilder) -> String {
        switch kind.code {
        case "MED-568": pages.text("care_plan_kind_treatment")
        case "MED-569": pages.text("care_plan_kind_prevention")
        case "MED-570": pages.text("care_plan_kind_measure")
        case "MED-571": pages.text("care_plan_kind_follow_up")
        default: kind.displayName ?? kind.code
        }
    }

    static func span(_ start: HL7Time?, _ end: HL7Time?) -> String? {
        switch (start, end) {
        case let (start?, end?) where start.iso == end.iso: HL7Time.french(iso: start.iso)
        case let (start?, end?): "\(HL7Time.french(iso: start.iso)) – \(HL7Time.french(iso: end.iso))"
        case let (start?, nil): HL7Time.french(iso: start.iso)
        case let (nil, end?): HL7Time.french(iso: end.iso)
        case (nil, nil): nil
        }
    }
}
