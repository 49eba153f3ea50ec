// SPDX-License-Identifier: MIT
// Helpers shared by the asyncdev command-line tools: error and usage
// reporting (exit 0 success, 1 failure, 2 usage error), number and errno
// parsing, clocks, percentiles, JSON escaping and the record format.
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

/// Decimal or 0x-hex unsigned integer, whole string, no sign.
bool parse_u64(const char* s, std::uint64_t& out);
/// A finite number >= 0.
bool parse_double(const char* s, double& out);
/// A duration in ns: plain number = ns, or with suffix ns, us, ms, s.
bool parse_duration_ns(const char* s, std::uint64_t& out);
/// A byte count: plain or with suffix k/K (1024), m/M, g/G.
bool parse_bytes(const char* s, std::uint64_t& out);
/// "EIO", "eio" or "5" -> 5; -1 if not an errno (valid range 1..4095).
int parse_errno(const char* s);
/// 5 -> "EIO" (or the number if glibc knows no name).
std::string errno_name(int err);

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

} // namespace tool
