/// glibc gives freed memory at the top of its heaps back to the kernel once more than
/// 128 KB of it is free, and faults it in again at the next allocation. A server's requests
/// free and allocate the same memory over and over: each SQLite read transaction that sees
/// another connection's commit drops its page cache and allocates it again, and the page
/// faults for that were 3 % of the agenda page's CPU in perf (`scripts/bench/cpu`: 1.79 →
/// 1.64 ms per page). Up to 32 MB free per heap now stays with the process.
enum HeapTuning {
    static func keepFreedMemory() {
        #if os(Linux)
        _ = glibcMallopt(trimThreshold, 32 << 20)
        #endif
    }

    #if os(Linux)
    /// `M_TRIM_THRESHOLD` in <malloc.h>, which Swift's Glibc module does not export.
    private static let trimThreshold: Int32 = -1
    #endif
}

#if os(Linux)
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
