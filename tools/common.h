// SPDX-License-Identifier: MIT
// Helpers shared by the asyncdev command-line tools: error and usage
// reporting (exit 0 success, 1 failure, 2 usage error), the parsing of
// option values (numbers, durations, sizes, errnos, KEY=VALUE settings,
// name lists), clocks, percentiles, JSON escaping, the record format and
// record framing. The parsers are pure functions: tests/fuzz calls them.
#pragma once

#include <asyncdev/uapi/asyncdev.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tool {

inline constexpr int exit_ok = 0;
inline constexpr int exit_fail = 1;
inline constexpr int exit_usage = 2;

/// The program name used in messages ("asyncdevctl").
extern const char* prog;

/// "prog: <msg>" on stderr.
void warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
/// "prog: <msg>" on stderr, exit 1.
[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
/// "prog: <msg>" and "Try 'prog --help' for more information." on stderr, exit 2.
[[noreturn]] void usage_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
/// "prog (asyncdev) <version>" on stdout.
void print_version();

/// The text after "open PATH: " for a failed open of `path` with `err`:
/// strerror(err), and for a missing /dev/async* node while no asyncdev
/// module is loaded (no /sys/module/asyncdev), what to do about it:
/// "No such file or directory (the asyncdev module is not loaded: run
/// 'modprobe asyncdev', or 'insmod asyncdev.ko' from a build tree)".
std::string open_error(const char* path, int err);

/// Decimal or 0x-hex unsigned integer, whole string, no sign.
bool parse_u64(const char* s, std::uint64_t& out);
/// A finite number >= 0.
bool parse_double(const char* s, double& out);
/// A duration in ns: plain number = ns, or with suffix ns, us, ms, s.
bool parse_duration_ns(const char* s, std::uint64_t& out);
/// A byte count: plain or with suffix k/K (1024), m/M, g/G.
bool parse_bytes(const char* s, std::uint64_t& out);
/// "EIO", "eio" or "5" -> 5; -1 if not an errno (valid range 1..511: 512 and up are kernel-internal).
int parse_errno(const char* s);
/// 5 -> "EIO" (or the number if glibc knows no name).
std::string errno_name(int err);

/// One KEY=VALUE of `asyncdevctl set`.
struct Setting {
    std::string key;     ///< latency_ns, jitter_ns, channels or produce_hz
    std::string text;    ///< VALUE as given
    std::uint64_t value = 0;
};
enum class SettingError {
    ok,
    not_key_value, ///< no '=', or nothing before it
    unknown_key,   ///< `key` = the KEY as given
    bad_value,     ///< `key` = the canonical key, `text` = VALUE
};
/// Parses KEY=VALUE (split at the first '='): latency_ns and jitter_ns (or
/// latency, jitter) take a duration (parse_duration_ns), channels and
/// produce_hz a parse_u64 number <= UINT32_MAX.
SettingError parse_setting(const std::string& arg, Setting& out);

/// "a,,b" -> {"a", "", "b"}; "" -> {""}.
std::vector<std::string> split(const std::string& s, char sep);
/// A comma-separated list of `names`, appended to `out`; "all" replaces
/// `out` so far (earlier entries and lists included) with every name, in
/// order. False at the first unknown entry, which goes to `bad`.
bool parse_name_list(const std::string& list, const std::vector<std::string>& names,
                     std::vector<std::string>& out, std::string& bad);

/// CLOCK_MONOTONIC in ns (the clock of asyncdev_record.timestamp_ns).
std::uint64_t now_ns();

/// Sorts `v` and returns the p-th percentile (0..100), nearest rank; 0 if empty.
std::uint64_t percentile(std::vector<std::uint64_t>& v, double p);
/// As above on an already sorted vector.
std::uint64_t percentile_sorted(const std::vector<std::uint64_t>& v, double p);

/// "a\"b" -> a\"b (for inside JSON quotes).
std::string json_escape(std::string_view s);

// ---- records ----
//
// The record format of the tools is struct asyncdev_record extended to any
// length >= 64: magic, size = the whole record's length in bytes (64 for
// the driver's producer), seq, CLOCK_MONOTONIC timestamp_ns, and a payload
// where byte i after the 24-byte header is (uint8_t)(seq + i), exactly the
// producer's pattern continued to the end of the record.

inline constexpr std::size_t record_header = offsetof(asyncdev_record, payload); // 24
inline constexpr std::size_t record_min = sizeof(asyncdev_record);               // 64
inline constexpr std::size_t record_max = 1 << 20;

/// Writes one record of `size` bytes (>= 64) at `buf`.
void fill_record(std::byte* buf, std::size_t size, std::uint64_t seq, std::uint64_t timestamp_ns);

enum class RecordStatus { ok, bad_magic, bad_size, bad_payload };
/// Checks a whole record (its header's size bytes at `buf`).
RecordStatus check_record(const std::byte* buf, std::size_t size);
/// Header fields of the record at `buf` (at least 24 bytes available).
asyncdev_record read_header(const std::byte* buf);

/// Frames a byte stream (what asyncdev-watch reads) into records. A byte
/// where no record header starts (wrong magic, or a size outside
/// record_min..record_max) is skipped and counted, so that the framer
/// resynchronises on the next record after garbage or a torn record.
class RecordFramer {
public:
    /// Appends `n` bytes of the stream.
    void append(const std::byte* p, std::size_t n);
    /// The next whole record (its header in `h`), skipping what is not a
    /// record start; nullptr when more bytes are needed. The pointer stays
    /// valid until the next append() or compact().
    const std::byte* next(asyncdev_record& h);
    /// Forgets the bytes next() has consumed.
    void compact();
    /// Bytes skipped so far.
    std::uint64_t junk() const { return junk_; }
    /// Bytes appended and not yet consumed.
    std::size_t buffered() const { return buf_.size() - off_; }

private:
    std::vector<std::byte> buf_;
    std::size_t off_ = 0;
    std::uint64_t junk_ = 0;
};

} // namespace tool
