// libFuzzer target: record framing of asyncdev-watch (tool::RecordFramer,
// check_record, fill_record in tools/common.cpp), the parser of what it
// reads from the device or any file. Properties:
//  * the input as a stream: every byte is a record's, skipped junk, or
//    still buffered; each record has the magic and a size in range; the
//    result does not depend on how the stream is cut into reads;
//  * records made by fill_record, with junk between them, come back out
//    exactly, checked ok, the junk counted.
#include "common.h"
#include "fuzz_check.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace {

struct Seen {
    std::uint64_t seq;
    std::uint32_t size;
    tool::RecordStatus status;
    bool operator==(const Seen&) const = default;
};

struct Result {
    std::vector<Seen> records;
    std::uint64_t junk = 0;
    std::size_t buffered = 0;
};

// A small deterministic generator for read sizes.
struct Rng {
    std::uint32_t s;
    std::uint32_t next()
    {
        s = s * 1664525u + 1013904223u;
        return s >> 8;
    }
};

// Feeds `bytes` in reads whose sizes come from `seed` (all at once if 0),
// draining the framer after each read as asyncdev-watch does.
Result frame(const std::byte* bytes, std::size_t n, std::uint32_t seed)
{
    Result r;
    tool::RecordFramer f;
    Rng rng{seed};
    std::size_t off = 0;
    while (off < n) {
        std::size_t len = seed ? 1 + rng.next() % 97 : n;
        if (len > n - off)
            len = n - off;
        f.append(bytes + off, len);
        off += len;
        asyncdev_record h;
        while (const std::byte* rec = f.next(h)) {
            FUZZ_CHECK(h.magic == ASYNCDEV_RECORD_MAGIC);
            FUZZ_CHECK(h.size >= tool::record_min && h.size <= tool::record_max);
            const asyncdev_record again = tool::read_header(rec);
            FUZZ_CHECK(std::memcmp(&again, &h, tool::record_header) == 0);
            r.records.push_back({h.seq, h.size, tool::check_record(rec, h.size)});
        }
        f.compact();
    }
    r.junk = f.junk();
    r.buffered = f.buffered();
    return r;
}

void check_stream(const std::byte* bytes, std::size_t n, std::uint32_t seed)
{
    const Result whole = frame(bytes, n, 0);
    std::uint64_t in_records = 0;
    for (const Seen& s : whole.records)
        in_records += s.size;
    FUZZ_CHECK(in_records + whole.junk + whole.buffered == n);
    const Result cut = frame(bytes, n, seed | 1);
    FUZZ_CHECK(cut.records == whole.records);
    FUZZ_CHECK(cut.junk == whole.junk);
    FUZZ_CHECK(cut.buffered == whole.buffered);
}

// Records of sizes and sequence numbers taken from the input, each after
// some zero bytes (the magic has no zero byte, so zeros never start a
// record); one may get a flipped payload byte.
void check_made(const std::uint8_t* data, std::size_t size, std::uint32_t seed)
{
    std::vector<std::byte> stream;
    std::vector<Seen> want;
    std::uint64_t zeros = 0;
    const std::uint64_t seq0 = size ? std::uint64_t{data[0]} << 32 : 0;
    for (std::size_t i = 1; i + 1 < size && want.size() < 32; i += 2) {
        const std::size_t gap = data[i] % 8;
        const std::size_t len = tool::record_min + data[i + 1] * 4u;
        stream.insert(stream.end(), gap, std::byte{0});
        zeros += gap;
        const std::size_t at = stream.size();
        stream.resize(at + len);
        const std::uint64_t seq = seq0 + want.size();
        tool::fill_record(stream.data() + at, len, seq, 1000 + seq);
        tool::RecordStatus st = tool::RecordStatus::ok;
        if (data[i] >= 0xf8) { // now and then a payload byte goes bad
            stream[at + tool::record_header + data[i + 1] % (len - tool::record_header)] ^=
                std::byte{0x5a};
            st = tool::RecordStatus::bad_payload;
        }
        want.push_back({seq, static_cast<std::uint32_t>(len), st});
    }
    const Result got = frame(stream.data(), stream.size(), seed | 1);
    FUZZ_CHECK(got.records == want);
    FUZZ_CHECK(got.junk == zeros);
    FUZZ_CHECK(got.buffered == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::uint32_t seed = 0;
    for (std::size_t i = 0; i < size && i < 4; ++i)
        seed |= std::uint32_t{data[i]} << (8 * i);
    check_stream(reinterpret_cast<const std::byte*>(data), size, seed);
    check_made(data, size, seed);
    return 0;
}
