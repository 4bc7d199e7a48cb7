// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "concerto",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "concerto", targets: ["concerto"]),
        .executable(name: "concerto-bench", targets: ["ConcertoBench"]),
        // The CDA reader's fuzz target (scripts/fuzz-cda builds it with -sanitize=fuzzer).
        .executable(name: "cda-fuzz", targets: ["CDAFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
    ],
    targets: [
        .target(
            name: "ConcertoCore",
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),
        .target(
            name: "CDA",
            dependencies: ["ConcertoCore", "CLibXML2"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DICOMweb",
            dependencies: [
                "ConcertoCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Pro Santé Connect: the OpenID Connect client (discovery, PKCE, ID token, userinfo).
        .target(
            name: "ProSanteConnect",
            dependencies: [
                "ConcertoCore",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CPangoCairo",
            pkgConfig: "pangocairo",
            providers: [.apt(["libpango1.0-dev", "libcairo2-dev"])]
        ),
        .target(
            name: "Documents",
            dependencies: ["ConcertoCore", "CPangoCairo"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "CDAFuzz",
            dependencies: ["CDA"],
            swiftSettings: swiftSettings
        ),
        // Our SQLite driver: connections, statement cache, reader pool, checkpointer.
        .target(
            name: "ConcertoSQLite",
            dependencies: [
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Storage: the one `Database` entry point, migrations, and a store per aggregate.
        .target(
            name: "ConcertoStore",
            dependencies: [
                "ConcertoCore",
                "ConcertoSQLite",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Application services shared by the web server and the command line: document
        // import, fiche export, imaging look-ups, export periods, demo data.
        .target(
            name: "ConcertoServices",
            dependencies: [
                "ConcertoCore",
                "CDA",
                "DICOMweb",
                "Documents",
                "ConcertoStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConcertoWeb",
            dependencies: [
                "ConcertoCore",
                "CDA",
                "DICOMweb",
                "Documents",
                "ConcertoSQLite",
                "ConcertoStore",
                "ConcertoServices",
                "ProSanteConnect",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "MultipartKit", package: "multipart-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "concerto",
            dependencies: [
                "CDA",
                "ConcertoWeb",
                "ConcertoServices",
                "ConcertoStore",
                "ConcertoCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ConcertoBench",
            dependencies: ["CDA", "DICOMweb", "Documents", "ConcertoSQLite", "ConcertoStore", "ConcertoCore", .product(name: "Logging", package: "swift-log"), .product(name: "SQLKit", package: "sql-kit"), .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ConcertoTestSupport",
            dependencies: ["ConcertoSQLite", "ConcertoStore", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Tests/ConcertoTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConcertoCoreTests",
            dependencies: ["ConcertoCore", "ConcertoTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CDATests",
            dependencies: ["CDA", "ConcertoCore", "ConcertoTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DocumentsTests",
            dependencies: ["Documents", "ConcertoCore", "ConcertoTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DICOMwebTests",
            dependencies: ["DICOMweb", "ConcertoCore", "ConcertoTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConcertoSQLiteTests",
            dependencies: ["ConcertoSQLite", "ConcertoTestSupport", .product(name: "SQLKit", package: "sql-kit"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConcertoStoreTests",
            dependencies: ["ConcertoStore", "ConcertoCore", "ConcertoTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProSanteConnectTests",
            dependencies: ["ProSanteConnect", "ConcertoCore", "ConcertoTestSupport", .product(name: "JWTKit", package: "jwt-kit")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConcertoWebTests",
            dependencies: [
                "ConcertoWeb",
                "ConcertoServices",
                "ConcertoStore",
                "ConcertoCore",
                "ConcertoTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
