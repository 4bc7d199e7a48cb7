import Mustache

/// A page's or a row's view model: a struct whose stored properties are what its template
/// reads, with nothing else to write. `PageBuilder.page` reads the properties once per
/// render into `ViewFields` (nested models and arrays of them too), so Mustache looks
/// names up in a dictionary instead of reflecting at every tag, and no hand-kept list of
/// names can drift from the struct. A nil optional is absent, as Mustache expects.
protocol PageModel: MustacheParent, Sendable {}

extension PageModel {
    /// For a model read other than through `ViewFields(model:)` (one placed in hand-built
    /// fields): the same answers, but it reflects at every lookup.
    func child(named name: String) -> Any? { ViewFields(model: self).values[name] }
}

extension ViewFields {
    init(model: some PageModel) {
        self.values = Self.fields(of: model)
    }

    private static func fields(of model: Any) -> [String: Any] {
        var fields: [String: Any] = [:]
        for child in Mirror(reflecting: model).children {
            guard let label = child.label, let value = templateValue(child.value) else { continue }
            // A property named like a Swift keyword is stored as `case`, read as {{case}}.
            fields[label.hasPrefix("`") ? String(label.dropFirst().dropLast()) : label] = value
        }
        return fields
    }

    private static func templateValue(_ value: Any) -> Any? {
        if let optional = value as? any OptionalTemplateValue {
            return optional.wrapped.flatMap(templateValue)
        }
        if let model = value as? any PageModel { return ViewFields(values: fields(of: model)) }
        if let models = value as? [any PageModel], !models.isEmpty { return models.map { ViewFields(values: fields(of: $0)) } }
        return value
    }

    private init(values: [String: Any]) {
        self.values = values
    }
}

/// Lets a reflected property's optional be opened without knowing its wrapped type.
private protocol OptionalTemplateValue {
    var wrapped: Any? { get }
}

extension Optional: OptionalTemplateValue {
    var wrapped: Any? { self.map { $0 as Any } }
}
