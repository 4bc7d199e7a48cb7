import Crypto
import Foundation

/// The Merkle tree of one sequenced batch, as RFC 6962 (Certificate Transparency) defines
/// it: a leaf is SHA-256 of 0x00 and the event's link, a node SHA-256 of 0x01 and its two
/// children, the left subtree holding the largest power of two below the leaf count. An
/// event's membership of a batch is then shown with log₂(n) hashes (`inclusionProof`),
/// without handing over the batch's other events.
public enum AuditMerkle {
    public typealias Hash = [UInt8]

    public static func leafHash(link: String) -> Hash {
        var bytes: [UInt8] = [0x00]
        bytes.reserveCapacity(33)
        var hex = link
        hex.withUTF8 { digits in
            guard digits.count == 64 else { return bytes.append(contentsOf: digits) }
            var index = 0
            while index < 64 {
                bytes.append(value(of: digits[index]) << 4 | value(of: digits[index + 1]))
                index += 2
            }
        }
        return Array(SHA256.hash(data: bytes))
    }

    private static func value(of digit: UInt8) -> UInt8 {
        digit <= 0x39 ? digit &- 0x30 : (digit | 0x20) &- 0x57
    }

    static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        var hasher = SHA256()
        hasher.update(data: [0x01])
        hasher.update(data: left)
        hasher.update(data: right)
        return Array(hasher.finalize())
    }

    /// The root of the leaves' tree; the hash of nothing for no leaves. Built level by
    /// level, a last odd node carried up unhashed: the same tree as RFC 6962's recursive
    /// split at the largest power of two (checked against it in the tests).
    public static func root(of leaves: ArraySlice<Hash>) -> Hash {
        guard !leaves.isEmpty else { return Array(SHA256.hash(data: Data())) }
        var level = Array(leaves)
        while level.count > 1 {
            var next: [Hash] = []
            next.reserveCapacity((level.count + 1) / 2)
            var index = 0
            while index + 1 < level.count {
                next.append(nodeHash(level[index], level[index + 1]))
                index += 2
            }
            if index < level.count { next.append(level[index]) }
            level = next
        }
        return level[0]
    }

    public static func root(ofLinks links: [String]) -> String {
        root(of: links.map(leafHash(link:))[...]).hexString
    }

    /// The sibling hashes from leaf `index` up to the root (RFC 6962 §2.1.1, PATH).
    public static func inclusionProof(index: Int, leaves: ArraySlice<Hash>) -> [Hash] {
        guard leaves.count > 1 else { return [] }
        let split = largestPowerOfTwo(below: leaves.count)
        let middle = leaves.startIndex + split
        if index < split {
            return inclusionProof(index: index, leaves: leaves[..<middle]) + [root(of: leaves[middle...])]
        }
        return inclusionProof(index: index - split, leaves: leaves[middle...]) + [root(of: leaves[..<middle])]
    }

    /// The root that `leaf` at `index` of `count` leaves and its proof lead to (RFC 9162
    /// §2.1.3.2): equal to the batch's root exactly when the leaf is in the batch there.
    public static func root(fromLeaf leaf: Hash, index: Int, count: Int, proof: [Hash]) -> Hash? {
        guard index >= 0, index < count else { return nil }
        var fn = index, sn = count - 1, result = leaf
        for sibling in proof {
            if sn == 0 { return nil }
            if fn & 1 == 1 || fn == sn {
                result = nodeHash(sibling, result)
                if fn & 1 == 0 {
                    while fn & 1 == 0, fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                result = nodeHash(result, sibling)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? result : nil
    }

    static func largestPowerOfTwo(below count: Int) -> Int {
        var power = 1
        while power << 1 < count { power <<= 1 }
        return power
    }
}
