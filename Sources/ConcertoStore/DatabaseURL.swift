import Foundation

/// Where the data lives: `sqlite:PATH`, `sqlite::memory:` or `postgres://user:pass@host:port/db`.
public enum DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    case sqliteFile(path: String)
    case sqliteMemory
    case postgres(host: String, port: Int, username: String, password: String?, database: String, tls: TLSMode = .disable)

    /// From the URL's `sslmode` query item, as libpq spells it.
    public enum TLSMode: String, Sendable, Equatable {
        case disable
        case prefer
        case require
    }

    public enum ParseError: Error, CustomStringConvertible, Equatable {
        case unsupported(String)
        case invalidPostgres(String)

        public var description: String {
            switch self {
            case .unsupported:
                "Unsupported database URL: use sqlite:PATH, sqlite::memory: or postgres://user:pass@host:port/db"
            case .invalidPostgres(let reason):
                "Invalid PostgreSQL URL: \(reason)"
            }
        }
    }

    public init(parsing raw: String) throws {
        if raw == "sqlite::memory:" || raw == "sqlite://:memory:" {
            self = .sqliteMemory
        } else if raw.hasPrefix("sqlite://") {
            self = .sqliteFile(path: String(raw.dropFirst("sqlite://".count)))
        } else if raw.hasPrefix("sqlite:") {
            let path = String(raw.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw ParseError.unsupported(raw) }
            self = .sqliteFile(path: path)
        } else if raw.hasPrefix("postgres://") || raw.hasPrefix("postgresql://") {
            guard let components = URLComponents(string: raw), let host = components.host, !host.isEmpty else {
                throw ParseError.invalidPostgres("missing host")
            }
            let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            guard !database.isEmpty else { throw ParseError.invalidPostgres("missing database name") }
            guard let user = components.user, !user.isEmpty else { throw ParseError.invalidPostgres("missing user") }
            var tls = TLSMode.disable
            if let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value {
                guard let parsed = TLSMode(rawValue: mode) else {
                    throw ParseError.invalidPostgres("sslmode must be disable, prefer or require")
                }
                tls = parsed
            }
            self = .postgres(
                host: host, port: components.port ?? 5432,
                username: user.removingPercentEncoding ?? user,
                password: components.password.map { $0.removingPercentEncoding ?? $0 },
                database: database, tls: tls
            )
        } else {
            throw ParseError.unsupported(raw)
        }
    }

    public var isPostgres: Bool {
        if case .postgres = self { return true }
        return false
    }

    /// Safe to log: never shows the password.
    public var description: String {
        switch self {
        case .sqliteFile(let path): "sqlite:\(path)"
        case .sqliteMemory: "sqlite::memory:"
        case .postgres(let host, let port, let username, _, let database, let tls):
            "postgres://\(username)@\(host):\(port)/\(database)" + (tls == .disable ? "" : "?sslmode=\(tls.rawValue)")
        }
    }
}
