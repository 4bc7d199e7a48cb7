import Logging
import NIOCore
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

/// SQL on one PostgreSQL connection, each statement prepared once per connection and from
/// then on only bound and executed.
///
/// An unnamed statement (what PostgresKit sends) is parsed, analysed and planned by the
/// server at every execution: measured on the agenda page under load, more than half of
/// PostgreSQL's time for the page, 9.4 ms of it planning the access-facts query alone. A
/// named statement is planned for its first executions and then, when PostgreSQL finds a
/// generic plan no costlier, not at all. Postgres-nio keeps the per-connection record of what is prepared; this
/// type gives each distinct text and parameter types a name.
///
/// Statements that are not plain SELECT/INSERT/UPDATE/DELETE/WITH (transaction control,
/// DDL, LISTEN...) and values postgres-nio cannot encode directly go the unnamed way.
struct PreparedPostgresConnection: SQLDatabase {
    let connection: PostgresConnection
    private let unnamed: any SQLDatabase
    private let transaction: TransactionTracker

    init(_ connection: PostgresConnection) {
        self.connection = connection
        self.unnamed = connection.sql()
        self.transaction = TransactionTracker()
    }

    /// A connection's SQL: statements prepared, or all unnamed (`CONCERTO_POSTGRES_PREPARE=off`).
    static func sql(on connection: PostgresConnection, prepared: Bool) -> any SQLDatabase {
        prepared ? PreparedPostgresConnection(connection) : connection.sql()
    }

    var logger: Logger { connection.logger }
    var eventLoop: any EventLoop { connection.eventLoop }
    var dialect: any SQLDialect { unnamed.dialect }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        eventLoop.makeFutureWithTask { try await self.execute(sql: query, onRow) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, binds) = serialize(query)
        let statement = StatementKind(sql)
        transaction.will(statement)
        do {
            if statement == .preparable, transaction.mayPrepare, let (bindings, types) = try Self.encode(binds),
                let name = PreparedStatementNames.shared.name(sql: sql, types: types) {
                try await NamedStatement.$identity.withValue(NamedStatement.Identity(name: name, sql: sql)) {
                    let rows = try await connection.execute(NamedStatement(bindings: bindings), logger: logger)
                    var columns: PostgresColumns.Names?
                    for try await row in rows {
                        let names = columns ?? PostgresColumns.Names(row)
                        columns = names
                        onRow(PostgresColumns(row, names: names))
                    }
                }
            } else {
                try await unnamed.execute(sql: query, onRow)
            }
        } catch {
            transaction.failed()
            throw error
        }
    }

    func withSession<R: Sendable>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }

    /// The bindings and their PostgreSQL types, or nil when a value needs PostgresKit's
    /// Codable path (a structure sent as JSON): such statements are not prepared.
    private static func encode(_ binds: [any Encodable & Sendable]) throws -> (PostgresBindings, [UInt32])? {
        var bindings = PostgresBindings(capacity: binds.count)
        var types: [UInt32] = []
        types.reserveCapacity(binds.count)
        for bind in binds {
            guard let type = try append(bind, to: &bindings) else { return nil }
            types.append(type)
        }
        return (bindings, types)
    }

    /// Generic so that an optional arrives as itself and `nil` can be told apart, as in
    /// PostgresKit's own encoding.
    private static func append<T: Encodable & Sendable>(_ value: T, to bindings: inout PostgresBindings) throws -> UInt32? {
        if (value as Optional<Any>) == nil {
            bindings.appendNull()
            return 0  // unspecified: the server infers it, as for an unnamed statement
        }
        guard let encodable = value as? any PostgresThrowingDynamicTypeEncodable else { return nil }
        try bindings.append(encodable, context: .default)
        return encodable.psqlType.rawValue
    }
}

/// A row read by column name, the common types decoded directly by postgres-nio.
/// PostgresKit's row sends every value through its Codable translation, which builds a
/// coding path (a formatted string) and looks up generic metadata per value: 14 % of an
/// instance's CPU on the agenda page, whose 40 rows hold some 600 values.
struct PostgresColumns: SQLRow {
    /// The columns' names, read once per result (every row has the same). A row has a
    /// handful of columns: comparing short names beats hashing them (hashing was a quarter
    /// of this type's time).
    final class Names: Sendable {
        let names: [String]
        init(_ row: PostgresRow) { names = row.map(\.columnName) }
        func position(of name: String) -> Int? { names.firstIndex(of: name) }
    }

    private let cells: PostgresRandomAccessRow
    private let row: PostgresRow
    private let names: Names

    init(_ row: PostgresRow, names: Names) {
        self.row = row
        self.cells = row.makeRandomAccess()
        self.names = names
    }

    var allColumns: [String] { names.names }

    func contains(column: String) -> Bool { names.position(of: column) != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let index = names.position(of: column) else { return true }
        return cells[index].bytes == nil
    }

    /// Types compared by identity and results reinterpreted, not cast: `as!` and `is`
    /// on a generic are runtime casts, which cost as much as the decoding (the access
    /// facts' 1,400 values per agenda page took 0.24 ms of an instance's CPU).
    func decode<T: Decodable>(column: String, as type: T.Type) throws -> T {
        guard let index = names.position(of: column) else { return try row.sql().decode(column: column, as: T.self) }  // its error
        let cell = cells[index]
        // Only where PostgresKit would decode the same way: its special cases (user-defined
        // types as text, numeric as Double) and everything else take its path.
        if T.self == String.self, !cell.dataType.isUserDefined { return unsafeBitCast(try cell.decode(String.self), to: T.self) }
        if T.self == String?.self, !cell.dataType.isUserDefined { return unsafeBitCast(try cell.decode(String?.self), to: T.self) }
        if T.self == Int64.self { return unsafeBitCast(try cell.decode(Int64.self), to: T.self) }
        if T.self == Int64?.self { return unsafeBitCast(try cell.decode(Int64?.self), to: T.self) }
        if T.self == Int.self { return unsafeBitCast(try cell.decode(Int.self), to: T.self) }
        if T.self == Int?.self { return unsafeBitCast(try cell.decode(Int?.self), to: T.self) }
        if T.self == Bool.self { return unsafeBitCast(try cell.decode(Bool.self), to: T.self) }
        if T.self == Bool?.self { return unsafeBitCast(try cell.decode(Bool?.self), to: T.self) }
        return try row.sql().decode(column: column, as: T.self)
    }
}

/// A statement whose text and name are chosen at run time. Postgres-nio reads a prepared
/// statement's name and text from its type, synchronously, in the task that executes it;
/// the task-local supplies them.
private struct NamedStatement: PostgresPreparedStatement {
    struct Identity: Sendable {
        var name: String
        var sql: String
    }
    typealias Row = PostgresRow

    @TaskLocal static var identity = Identity(name: "", sql: "")
    static var name: String { identity.name }
    static var sql: String { identity.sql }

    let bindings: PostgresBindings
    func makeBindings() -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}

/// One name per distinct statement text and parameter types, the same on every connection.
/// Bounded: statements built with a varying number of parameters (lists of ids) could
/// otherwise fill the server's memory with plans; past the bound they go unnamed.
final class PreparedStatementNames: Sendable {
    static let shared = PreparedStatementNames(limit: 2_000)

    private struct Key: Hashable {
        var sql: String
        var types: [UInt32]
    }
    private let names = Mutex<[Key: String]>([:])
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func name(sql: String, types: [UInt32]) -> String? {
        names.withLock { names in
            let key = Key(sql: sql, types: types)
            if let name = names[key] { return name }
            guard names.count < limit else { return nil }
            let name = "concerto_\(names.count + 1)"
            names[key] = name
            return name
        }
    }
}

/// Whether a statement may be prepared: PostgreSQL refuses every statement but ROLLBACK in
/// a transaction that has failed, and postgres-nio remembers a failed preparation on the
/// connection for good. Inside a failed transaction statements therefore go unnamed.
private final class TransactionTracker: Sendable {
    private enum State {
        case outside, open, failed
    }
    private let state = Mutex(State.outside)

    func will(_ statement: StatementKind) {
        state.withLock { state in
            switch statement {
            case .begin: state = .open
            case .end: state = .outside
            case .preparable, .other: break
            }
        }
    }

    var mayPrepare: Bool { state.withLock { $0 != .failed } }

    func failed() {
        state.withLock { state in
            if state == .open { state = .failed }
        }
    }
}

private enum StatementKind: Equatable {
    case preparable, begin, end, other

    init(_ sql: String) {
        let first = sql.utf8.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\t") }
            .prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "(") }
        switch String(decoding: first, as: UTF8.self).uppercased() {
        case "SELECT", "INSERT", "UPDATE", "DELETE", "WITH":
            // One statement only: the extended protocol takes no more, and a text with a
            // semicolon is left to the unnamed path and its error.
            self = sql.utf8.contains(UInt8(ascii: ";")) ? .other : .preparable
        case "BEGIN", "START": self = .begin
        case "COMMIT", "ROLLBACK", "END", "ABORT": self = .end
        default: self = .other
        }
    }
}
