import ConcertoCore
import Foundation
import Testing

@Suite struct UUIDTextTests {
    @Test func storageKeyIsFoundationsTextInLowerCase() {
        for _ in 0..<1000 {
            let id = UUID()
            #expect(id.storageKey == id.uuidString.lowercased())
        }
        #expect(UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)).storageKey == "00000000-0000-0000-0000-000000000000")
        #expect(UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255)).storageKey
            == "ffffffff-ffff-ffff-ffff-ffffffffffff")
    }

    @Test func readsWhatFoundationReadsInEitherCase() {
        for _ in 0..<1000 {
            let id = UUID()
            #expect(UUID(storageKey: id.storageKey) == id)
            #expect(UUID(storageKey: id.uuidString) == id)
            #expect(UUID(storageKey: Substring("/" + id.storageKey).dropFirst()) == id)
        }
    }

    @Test(arguments: [
        "", "3f2504e0-4f89-11d3-9a0c-0305e82c330", "3f2504e0-4f89-11d3-9a0c-0305e82c33011",
        "3f2504e04f89-11d3-9a0c-0305e82c3301-", "3f2504e0_4f89_11d3_9a0c_0305e82c3301",
        "3g2504e0-4f89-11d3-9a0c-0305e82c3301", " 3f2504e0-4f89-11d3-9a0c-0305e82c330",
        "3f2504e0-4f89-11d3-9a0c-0305e82c33é", "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}",
    ])
    func refusesAnythingElse(text: String) {
        // Stricter than Foundation, whose sscanf skips a leading space.
        #expect(UUID(storageKey: text) == nil)
    }
}
