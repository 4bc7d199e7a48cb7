import Foundation

/// Bar charts drawn as SVG on the server: no script, no library. Each chart is an image
/// with a title and a description saying what it shows (`role="img"`); the page puts the
/// same values in a table beside it, which is what screen readers read.
enum SVGChart {
    struct Bar: Sendable {
        let label: String
        let value: Int
    }

    /// Vertical bars, one per label (months): labels under the bars, values above.
    static func columns(id: String, title: String, description: String, bars: [Bar], width: Int = 640, height: Int = 220) -> String {
        let top = 24, bottom = 36, left = 8
        let plotHeight = height - top - bottom
        let maximum = max(bars.map(\.value).max() ?? 0, 1)
        let slot = Double(width - 2 * left) / Double(max(bars.count, 1))
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" "
        out += "aria-labelledby=\"\(id)-title \(id)-desc\" data-test=\"chart-\(id)\">"
        out += "<title id=\"\(id)-title\">\(HTMLEscaping.escape(title))</title><desc id=\"\(id)-desc\">\(HTMLEscaping.escape(description))</desc>"
        out += "<line x1=\"\(left)\" y1=\"\(top + plotHeight)\" x2=\"\(width - left)\" y2=\"\(top + plotHeight)\" class=\"chart-axis\"/>"
        for (index, bar) in bars.enumerated() {
            let barHeight = Int((Double(bar.value) / Double(maximum) * Double(plotHeight)).rounded())
            let x = Double(left) + Double(index) * slot + slot * 0.15
            let barWidth = slot * 0.7
            let y = top + plotHeight - barHeight
            out += "<rect x=\"\(format(x))\" y=\"\(y)\" width=\"\(format(barWidth))\" height=\"\(barHeight)\" class=\"chart-bar\"><title>"
            out += "\(HTMLEscaping.escape(bar.label)) : \(bar.value)</title></rect>"
            out += "<text x=\"\(format(x + barWidth / 2))\" y=\"\(y - 4)\" text-anchor=\"middle\" class=\"chart-value\">\(bar.value)</text>"
            out += "<text x=\"\(format(x + barWidth / 2))\" y=\"\(top + plotHeight + 16)\" text-anchor=\"middle\" class=\"chart-label\">"
            out += "\(HTMLEscaping.escape(bar.label))</text>"
        }
        return out + "</svg>"
    }

    /// Horizontal bars, one per label (site groups, organisations): label, bar, value.
    static func rows(id: String, title: String, description: String, bars: [Bar], width: Int = 640) -> String {
        let rowHeight = 22, labelWidth = 230, valueWidth = 50
        let height = max(bars.count, 1) * rowHeight + 8
        let maximum = max(bars.map(\.value).max() ?? 0, 1)
        let plotWidth = Double(width - labelWidth - valueWidth)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" "
        out += "aria-labelledby=\"\(id)-title \(id)-desc\" data-test=\"chart-\(id)\">"
        out += "<title id=\"\(id)-title\">\(HTMLEscaping.escape(title))</title><desc id=\"\(id)-desc\">\(HTMLEscaping.escape(description))</desc>"
        for (index, bar) in bars.enumerated() {
            let y = 4 + index * rowHeight
            let barWidth = Double(bar.value) / Double(maximum) * plotWidth
            out += "<text x=\"\(labelWidth - 6)\" y=\"\(y + 15)\" text-anchor=\"end\" class=\"chart-label\">\(HTMLEscaping.escape(bar.label))</text>"
            out += "<rect x=\"\(labelWidth)\" y=\"\(y + 3)\" width=\"\(format(barWidth))\" height=\"\(rowHeight - 6)\" class=\"chart-bar\"><title>"
            out += "\(HTMLEscaping.escape(bar.label)) : \(bar.value)</title></rect>"
            out += "<text x=\"\(format(Double(labelWidth) + barWidth + 4))\" y=\"\(y + 15)\" class=\"chart-value\">\(bar.value)</text>"
        }
        return out + "</svg>"
    }

    private static func format(_ value: Double) -> String { String(format: "%.1f", value) }
}
