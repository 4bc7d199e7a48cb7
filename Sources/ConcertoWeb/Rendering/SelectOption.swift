import ConcertoCore
import Mustache

/// One `<option>` of a select list: its value, its label, whether it is the chosen one.
/// (Explicit names rather than `PageModel`: lists of them sit in rows, read often.)
struct SelectOption: Sendable, MustacheParent {
    let value: String
    let label: String
    let selected: Bool

    func child(named name: String) -> Any? {
        switch name {
        case "value": value
        case "label": label
        case "selected": selected
        default: nil
        }
    }

    /// Coded values labelled in the page's language by `prefix_<rawValue>`.
    static func list<T: RawRepresentable<String>>(_ all: [T], labelledBy prefix: String, chosen: String?, pages: PageBuilder) -> [SelectOption] {
        all.map { SelectOption(value: $0.rawValue, label: pages.text("\(prefix)_\($0.rawValue)"), selected: chosen == $0.rawValue) }
    }

    /// The concepts of a terminology, labelled as it labels them.
    static func list(_ terminology: Terminology, chosen: String?) -> [SelectOption] {
        terminology.concepts.map { SelectOption(value: $0.code, label: $0.label, selected: chosen == $0.code) }
    }
}
