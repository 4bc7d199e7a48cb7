import ConcertoStore
import Testing

@Suite struct SQLScriptTests {
    @Test func splitsOnSemicolonsOutsideQuotesAndComments() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (x TEXT DEFAULT 'a;b');
            /* block; comment */ INSERT INTO a VALUES ('it''s;');
            CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
            -- trailing comment only
            """
        let statements = SQLScript.statements(in: script)
        #expect(statements.count == 3)
        #expect(statements[0].hasSuffix("CREATE TABLE a (x TEXT DEFAULT 'a;b')"))
        #expect(statements[1].contains("INSERT INTO a VALUES ('it''s;')"))
        #expect(statements[2] == "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql")
    }

    @Test func emptyScriptHasNoStatements() {
        #expect(SQLScript.statements(in: "  \n-- nothing\n").isEmpty)
    }
}

@Suite struct DatabaseURLTests {
    @Test func parsesTheThreeForms() throws {
        #expect(try DatabaseURL(parsing: "sqlite:data/x.sqlite") == .sqliteFile(path: "data/x.sqlite"))
        #expect(try DatabaseURL(parsing: "sqlite::memory:") == .sqliteMemory)
        #expect(try DatabaseURL(parsing: "postgres://u:p%40ss@127.0.0.1:5433/db")
            == .postgres(host: "127.0.0.1", port: 5433, username: "u", password: "p@ss", database: "db"))
    }

    @Test func rejectsOthersAndHidesPasswords() throws {
        #expect(throws: DatabaseURL.ParseError.self) { try DatabaseURL(parsing: "mysql://x") }
        #expect(throws: DatabaseURL.ParseError.self) { try DatabaseURL(parsing: "postgres://u@host") }
        #expect(try DatabaseURL(parsing: "postgres://u:secret@h/db").description == "postgres://u@h:5432/db")
    }
}
