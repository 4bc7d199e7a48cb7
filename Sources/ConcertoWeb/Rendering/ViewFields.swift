import Mustache

/// A list row or small block for a template: named values, looked up by name without
/// reflection. Page content types stay typed structs; rows that only relay strings
/// and flags to the template use this.
// @unchecked: every value is Sendable, taken either as `any Sendable` below or read from
// a `PageModel` (itself Sendable, so are its stored properties).
struct ViewFields: MustacheParent, @unchecked Sendable {
    let values: [String: Any]

    init(_ values: [String: (any Sendable)?]) {
        self.values = values.compactMapValues { $0 }
    }

    func child(named name: String) -> Any? { values[name] }
}
