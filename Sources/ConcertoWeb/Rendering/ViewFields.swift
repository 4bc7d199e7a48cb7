import Mustache

/// A list row or small block for a template: named values, looked up by name without
/// reflection. Page content types stay typed structs; rows that only relay strings
/// and flags to the template use this.
struct ViewFields: MustacheParent, Sendable {
    let values: [String: any Sendable]

    init(_ values: [String: (any Sendable)?]) {
        self.values = values.compactMapValues { $0 }
    }

    func child(named name: String) -> Any? { values[name] }
}
