import ConcertoCore
import CPangoCairo
import Foundation

/// What a PDF page shows, as blocks laid out top to bottom; the renderer breaks pages.
public enum PDFBlock: Sendable {
    case title(String)
    case heading(String)
    case paragraph(String)
    /// Small grey text (notes, provenance).
    case note(String)
    /// Label / value pairs in two columns; pairs without a value are left out.
    case fields([(String, String?)])
    case table(PDFTable)
    case spacer(Double)
    /// Names and signature lines, kept on one page.
    case signatures([String])
    /// Horizontal bars: a label, a bar proportional to the value, the value.
    case bars([(label: String, value: Int)])
}

/// A table whose rows break across pages, the header repeated on each.
public struct PDFTable: Sendable {
    public var columns: [(title: String, width: Double)]
    public var rows: [[String]]

    public init(columns: [(title: String, width: Double)], rows: [[String]]) {
        self.columns = columns
        self.rows = rows
    }
}

public struct PDFDocumentSpec: Sendable {
    /// Top left of every page (the community, the board).
    public var header: String
    /// Top right of every page (what the document is).
    public var kind: String
    public var documentID: String
    public var generatedAt: Date
    public var blocks: [PDFBlock]

    public init(header: String, kind: String, documentID: String, generatedAt: Date, blocks: [PDFBlock]) {
        self.header = header
        self.kind = kind
        self.documentID = documentID
        self.generatedAt = generatedAt
        self.blocks = blocks
    }
}

public enum PDFError: Error {
    case cairo(String)
}

/// French typography for printed text: a narrow no-break space before : ; ! ? and inside
/// « », where a plain space would let the sign start a line.
public enum FrenchTypography {
    public static func apply(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var previous: Character?
        for character in text {
            if [":", ";", "!", "?", "»"].contains(character), previous == " " {
                out.removeLast()
                out.append("\u{202F}")
            } else if character == " ", previous == "«" {
                out.append("\u{202F}")
                previous = "\u{202F}"
                continue
            }
            out.append(character)
            previous = character
        }
        return out
    }
}

/// Renders blocks to A4 PDF in-process with cairo and pango: real text layout (wrapping,
/// UTF-8, the system's DejaVu fonts), tables broken across pages with their header
/// repeated, a header and a footer with "page X / Y", the document id and the generation
/// time. Two passes: lay out every line and row to know the page count, then draw.
public enum PDFRenderer {
    static let pageWidth = 595.276
    static let pageHeight = 841.89
    static let margin = 48.0
    static let top = 78.0
    static let bottom = pageHeight - 64.0
    static var textWidth: Double { pageWidth - 2 * margin }

    public static func render(_ spec: PDFDocumentSpec) throws -> Data {
        let sink = ByteSink()
        let surface = cairo_pdf_surface_create_for_stream({ closure, data, length in
            guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
            Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue().bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
            return CAIRO_STATUS_SUCCESS
        }, Unmanaged.passUnretained(sink).toOpaque(), pageWidth, pageHeight)
        guard let surface, cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else { throw PDFError.cairo("surface") }
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, spec.kind)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "Concerto")
        guard let cr = cairo_create(surface) else { throw PDFError.cairo("context") }
        var layout = Layout(cr: cr)
        for block in spec.blocks { layout.place(block) }
        let pages = layout.pages
        let footerTime = ParisCalendar.frenchDateTime(spec.generatedAt)
        for (index, operations) in pages.enumerated() {
            layout.drawFrame(header: spec.header, kind: spec.kind,
                             footer: "Page \(index + 1) / \(pages.count) · \(spec.documentID) · généré le \(footerTime)")
            for operation in operations { operation(cr) }
            cairo_show_page(cr)
        }
        layout.release()
        cairo_destroy(cr)
        cairo_surface_finish(surface)
        let status = cairo_surface_status(surface)
        cairo_surface_destroy(surface)
        guard status == CAIRO_STATUS_SUCCESS else { throw PDFError.cairo(String(cString: cairo_status_to_string(status))) }
        return Data(sink.bytes)
    }

    final class ByteSink {
        var bytes: [UInt8] = []
    }

    typealias Operation = (OpaquePointer) -> Void

    /// The first pass: places lines and rows on pages, keeping the layouts for the second.
    struct Layout {
        let cr: OpaquePointer
        var pages: [[Operation]] = [[]]
        var y = PDFRenderer.top
        var layouts: [OpaquePointer] = []

        init(cr: OpaquePointer) {
            self.cr = cr
        }

        mutating func release() {
            for layout in layouts { g_object_unref(UnsafeMutableRawPointer(layout)) }
            layouts.removeAll()
        }

        mutating func newPage() {
            pages.append([])
            y = PDFRenderer.top
        }

        mutating func add(_ operation: @escaping Operation) {
            pages[pages.count - 1].append(operation)
        }

        /// A layout of `text` in `font`, wrapped at `width` points.
        mutating func makeLayout(_ text: String, font: String, width: Double, alignment: PangoAlignment = PANGO_ALIGN_LEFT) -> OpaquePointer {
            let layout = pango_cairo_create_layout(cr)!
            let description = pango_font_description_from_string(font)
            pango_layout_set_font_description(layout, description)
            pango_font_description_free(description)
            pango_layout_set_width(layout, Int32(width * Double(concerto_pango_scale())))
            pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR)
            pango_layout_set_alignment(layout, alignment)
            let typeset = FrenchTypography.apply(text)
            pango_layout_set_text(layout, typeset, Int32(typeset.utf8.count))
            layouts.append(layout)
            return layout
        }

        static func height(_ layout: OpaquePointer) -> Double {
            var logical = PangoRectangle()
            pango_layout_get_extents(layout, nil, &logical)
            return Double(logical.height) / Double(concerto_pango_scale())
        }

        /// Places a layout line by line, breaking pages between lines.
        mutating func flow(_ layout: OpaquePointer, x: Double, color: (Double, Double, Double) = (0.1, 0.1, 0.1)) {
            let scale = Double(concerto_pango_scale())
            guard let iterator = pango_layout_get_iter(layout) else { return }
            defer { pango_layout_iter_free(iterator) }
            repeat {
                var logical = PangoRectangle()
                pango_layout_iter_get_line_extents(iterator, nil, &logical)
                let height = Double(logical.height) / scale
                let baseline = Double(pango_layout_iter_get_baseline(iterator) - logical.y) / scale
                if y + height > PDFRenderer.bottom { newPage() }
                let line = pango_layout_iter_get_line_readonly(iterator)
                let lineX = x + Double(logical.x) / scale
                let lineY = y + baseline
                add { cr in
                    cairo_set_source_rgb(cr, color.0, color.1, color.2)
                    cairo_move_to(cr, lineX, lineY)
                    pango_cairo_show_layout_line(cr, line)
                }
                y += height
            } while pango_layout_iter_next_line(iterator) != 0
        }

        mutating func place(_ block: PDFBlock) {
            let width = PDFRenderer.textWidth
            let x = PDFRenderer.margin
            switch block {
            case .title(let text):
                flow(makeLayout(text, font: "DejaVu Sans Bold 16", width: width), x: x, color: (0.07, 0.25, 0.45))
                y += 8
            case .heading(let text):
                // Keep a heading with at least a few lines of what follows.
                if y + 60 > PDFRenderer.bottom { newPage() }
                y += 6
                flow(makeLayout(text, font: "DejaVu Sans Bold 12", width: width), x: x, color: (0.07, 0.25, 0.45))
                let ruleY = y + 1
                add { cr in
                    cairo_set_source_rgb(cr, 0.07, 0.25, 0.45)
                    cairo_set_line_width(cr, 0.6)
                    cairo_move_to(cr, x, ruleY)
                    cairo_line_to(cr, x + width, ruleY)
                    cairo_stroke(cr)
                }
                y += 5
            case .paragraph(let text):
                for block in text.components(separatedBy: "\n\n") {
                    flow(makeLayout(block, font: "DejaVu Sans 9.5", width: width), x: x)
                    y += 4
                }
            case .note(let text):
                flow(makeLayout(text, font: "DejaVu Sans 8", width: width), x: x, color: (0.4, 0.4, 0.4))
                y += 4
            case .fields(let pairs):
                let present = pairs.compactMap { pair in pair.1.flatMap { $0.isEmpty ? nil : (pair.0, $0) } }
                guard !present.isEmpty else { return }
                table(PDFTable(columns: [("", 0.3), ("", 0.7)], rows: present.map { [$0.0, $0.1] }), header: false)
            case .table(let table):
                self.table(table, header: true)
            case .spacer(let height):
                y += height
            case .bars(let bars):
                let rowHeight = 15.0, labelWidth = width * 0.32, valueWidth = 40.0
                let maximum = Double(max(bars.map(\.value).max() ?? 0, 1))
                for bar in bars {
                    if y + rowHeight > PDFRenderer.bottom { newPage() }
                    let label = makeLayout(bar.label, font: "DejaVu Sans 8", width: labelWidth - 6, alignment: PANGO_ALIGN_RIGHT)
                    let value = makeLayout(String(bar.value), font: "DejaVu Sans 8", width: valueWidth)
                    let barWidth = (width - labelWidth - valueWidth) * Double(bar.value) / maximum
                    let top = y
                    add { cr in
                        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2)
                        cairo_move_to(cr, x, top + 1)
                        pango_cairo_show_layout(cr, label)
                        cairo_set_source_rgb(cr, 0.16, 0.42, 0.68)
                        cairo_rectangle(cr, x + labelWidth, top + 2, barWidth, rowHeight - 4)
                        cairo_fill(cr)
                        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2)
                        cairo_move_to(cr, x + labelWidth + barWidth + 4, top + 1)
                        pango_cairo_show_layout(cr, value)
                    }
                    y += rowHeight
                }
                y += 8
            case .signatures(let names):
                let height = 70.0
                if y + height > PDFRenderer.bottom { newPage() }
                let columnWidth = width / Double(max(names.count, 1))
                for (index, name) in names.enumerated() {
                    let left = x + Double(index) * columnWidth
                    let label = makeLayout(name, font: "DejaVu Sans 9", width: columnWidth - 12)
                    let top = y
                    add { cr in
                        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1)
                        cairo_move_to(cr, left, top)
                        pango_cairo_show_layout(cr, label)
                        cairo_set_line_width(cr, 0.5)
                        cairo_move_to(cr, left, top + 55)
                        cairo_line_to(cr, left + columnWidth - 24, top + 55)
                        cairo_stroke(cr)
                    }
                }
                y += height
            }
        }

        /// Rows break across pages; the header row is repeated on each page.
        mutating func table(_ table: PDFTable, header: Bool) {
            let x = PDFRenderer.margin
            let total = table.columns.reduce(0) { $0 + $1.width }
            let widths = table.columns.map { PDFRenderer.textWidth * $0.width / total }
            let padding = 3.0
            func row(_ cells: [String], bold: Bool) -> (layouts: [OpaquePointer], height: Double) {
                let layouts = zip(cells, widths).map { cell, width in
                    makeLayout(cell, font: bold ? "DejaVu Sans Bold 8.5" : "DejaVu Sans 8.5", width: width - 2 * padding)
                }
                return (layouts, (layouts.map(Layout.height).max() ?? 0) + 2 * padding)
            }
            let headerRow = header ? row(table.columns.map(\.title), bold: true) : nil
            if let headerRow {
                if y + headerRow.height * 2 > PDFRenderer.bottom { newPage() }
                drawRow(headerRow, widths: widths, padding: padding, shaded: true, labels: false)
            }
            for cells in table.rows {
                let measured = row(cells, bold: false)
                if y + measured.height > PDFRenderer.bottom, y > PDFRenderer.top {
                    newPage()
                    if let headerRow { drawRow(headerRow, widths: widths, padding: padding, shaded: true, labels: false) }
                }
                drawRow(measured, widths: widths, padding: padding, shaded: false, labels: !header)
            }
            y += 8
        }

        mutating func drawRow(_ cells: (layouts: [OpaquePointer], height: Double), widths: [Double], padding: Double, shaded: Bool, labels: Bool) {
            let x = PDFRenderer.margin
            let top = y
            var left = x
            for (index, (layout, width)) in zip(cells.layouts, widths).enumerated() {
                let cellLeft = left
                // Labels of a fields table are grey, values dark.
                let shade = labels && index == 0 ? 0.35 : 0.1
                add { cr in
                    if shaded {
                        cairo_set_source_rgb(cr, 0.93, 0.95, 0.98)
                        cairo_rectangle(cr, cellLeft, top, width, cells.height)
                        cairo_fill(cr)
                    }
                    cairo_set_source_rgb(cr, shade, shade, shade)
                    cairo_move_to(cr, cellLeft + padding, top + padding)
                    pango_cairo_show_layout(cr, layout)
                }
                left += width
            }
            let rowWidth = widths.reduce(0, +)
            add { cr in
                cairo_set_source_rgb(cr, 0.8, 0.82, 0.86)
                cairo_set_line_width(cr, 0.4)
                cairo_move_to(cr, x, top + cells.height)
                cairo_line_to(cr, x + rowWidth, top + cells.height)
                cairo_stroke(cr)
            }
            y += cells.height
        }

        /// Header and footer of a page.
        mutating func drawFrame(header: String, kind: String, footer: String) {
            let width = PDFRenderer.textWidth
            let x = PDFRenderer.margin
            let left = makeLayout(header, font: "DejaVu Sans 8", width: width * 0.65)
            let right = makeLayout(kind, font: "DejaVu Sans Bold 8", width: width * 0.35, alignment: PANGO_ALIGN_RIGHT)
            let bottomLine = makeLayout(footer, font: "DejaVu Sans 7.5", width: width, alignment: PANGO_ALIGN_CENTER)
            cairo_set_source_rgb(cr, 0.35, 0.35, 0.35)
            cairo_move_to(cr, x, 40)
            pango_cairo_show_layout(cr, left)
            cairo_move_to(cr, x + width * 0.65, 40)
            pango_cairo_show_layout(cr, right)
            cairo_set_line_width(cr, 0.5)
            cairo_move_to(cr, x, 58)
            cairo_line_to(cr, x + width, 58)
            cairo_stroke(cr)
            cairo_move_to(cr, x, PDFRenderer.pageHeight - 44)
            pango_cairo_show_layout(cr, bottomLine)
        }
    }
}
