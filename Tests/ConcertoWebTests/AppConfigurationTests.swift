import ConcertoStore
import ConcertoWeb
import Foundation
import Testing

/// The `CONCERTO_*` environment: values taken, bad values refused by name, retired ones reported.
@Suite struct AppConfigurationTests {
    @Test func anEmptyEnvironmentGivesTheDefaults() throws {
        let config = try AppConfiguration.fromEnvironment([:])
        #expect(config.port == 8080)
        #expect(config.database == .sqliteFile(path: "data/concerto.sqlite"))
        #expect(config.retiredSettings.isEmpty)
        #expect(config.sqliteReaders >= 4)
        #expect(config.sqliteSynchronous == .full) // an audited page is sent once its event is on disk
        #expect(config.postgresPreparedStatements)
    }

    @Test func valuesAreTaken() throws {
        let config = try AppConfiguration.fromEnvironment([
            "CONCERTO_PORT": "9090",
            "CONCERTO_DATABASE_URL": "sqlite::memory:",
            "CONCERTO_SQLITE_READERS": "6",
            "CONCERTO_SQLITE_SYNC": "normal",
            "CONCERTO_POSTGRES_PREPARE": "off",
            "CONCERTO_DICOMWEB_TIMEOUT": "1.5",
            "CONCERTO_EMERGENCY_ACCESS_HOURS": "2",
        ])
        #expect(config.port == 9090)
        #expect(config.database == .sqliteMemory)
        #expect(config.sqliteReaders == 6)
        #expect(config.sqliteSynchronous == .normal)
        #expect(!config.postgresPreparedStatements)
        #expect(config.dicomwebTimeoutSeconds == 1.5)
        #expect(config.emergencyAccessDuration == .seconds(7200))
    }

    @Test(arguments: [
        ("CONCERTO_PORT", "0"), ("CONCERTO_PORT", "http"), ("CONCERTO_SQLITE_READERS", "0"),
        ("CONCERTO_SQLITE_READERS", "many"), ("CONCERTO_DICOMWEB_TIMEOUT", "600"),
        ("CONCERTO_SECURE_COOKIES", "maybe"), ("CONCERTO_POSTGRES_PREPARE", "sometimes"), ("CONCERTO_LOG_LEVEL", "loud"),
    ])
    func aBadValueIsRefusedByName(name: String, value: String) {
        #expect {
            try AppConfiguration.fromEnvironment([name: value])
        } throws: { error in
            "\(error)" == "Invalid value for \(name): \(value)"
        }
    }

    /// An environment carried over from an earlier version keeps working, and the server
    /// says at start which settings it now ignores.
    @Test func aRetiredSettingIsReportedNotSilentlyIgnored() throws {
        let config = try AppConfiguration.fromEnvironment(["CONCERTO_SQLITE_THREADS": "4"])
        #expect(config.retiredSettings.map(\.name) == ["CONCERTO_SQLITE_THREADS"])
        let notice = try #require(config.retiredSettings.first?.notice)
        #expect(notice.contains("CONCERTO_SQLITE_READERS"))
    }
}

/// `CONCERTO_PSC_*`: Pro Santé Connect is configured whole or not at all.
@Suite struct PSCConfigurationTests {
    func secretFile(_ content: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("psc-\(UUID().uuidString)").path
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aCompleteSettingGivesTheProviderAndRedirectsFromThePublicURL() throws {
        let config = try AppConfiguration.fromEnvironment([
            "CONCERTO_PSC_ISSUER": "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet",
            "CONCERTO_PSC_CLIENT_ID": "concerto-na",
            "CONCERTO_PSC_CLIENT_SECRET_FILE": try secretFile("s3cret\n"),
            "CONCERTO_PUBLIC_URL": "https://rcp.example.fr",
        ])
        let psc = try #require(config.proSanteConnect)
        #expect(psc.clientSecret == "s3cret")
        #expect(psc.discoveryURL == "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet/.well-known/wallet-openid-configuration")
        #expect(psc.redirectURI == "https://rcp.example.fr/login/psc/callback")
        #expect(psc.postLogoutRedirectURI == "https://rcp.example.fr/login")
        #expect(!"\(psc)".contains("s3cret"))
        #expect(try AppConfiguration.fromEnvironment([:]).proSanteConnect == nil)
    }

    @Test func halfASettingOrAnInsecureIssuerStopsTheStart() throws {
        #expect(throws: (any Error).self) { try AppConfiguration.fromEnvironment(["CONCERTO_PSC_ISSUER": "https://psc.example/realm"]) }
        let file = try secretFile("s")
        #expect(throws: (any Error).self) {
            try AppConfiguration.fromEnvironment(["CONCERTO_PSC_ISSUER": "http://psc.example/realm", "CONCERTO_PSC_CLIENT_ID": "c",
                                                  "CONCERTO_PSC_CLIENT_SECRET_FILE": file])
        }
        #expect(throws: (any Error).self) {
            try AppConfiguration.fromEnvironment(["CONCERTO_PSC_ISSUER": "https://psc.example/realm", "CONCERTO_PSC_CLIENT_ID": "c",
                                                  "CONCERTO_PSC_CLIENT_SECRET_FILE": "/nonexistent/secret"])
        }
        #expect(throws: (any Error).self) {
            try AppConfiguration.fromEnvironment(["CONCERTO_PSC_ISSUER": "https://psc.example/realm", "CONCERTO_PSC_CLIENT_ID": "c",
                                                  "CONCERTO_PSC_CLIENT_SECRET_FILE": try secretFile("  \n")])
        }
        // The local test provider: plain http on loopback is allowed.
        let local = try AppConfiguration.fromEnvironment(["CONCERTO_PSC_ISSUER": "http://127.0.0.1:8090/auth/realms/esante-wallet",
                                                          "CONCERTO_PSC_CLIENT_ID": "c", "CONCERTO_PSC_CLIENT_SECRET_FILE": file])
        #expect(local.proSanteConnect != nil)
    }
}
