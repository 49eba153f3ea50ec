// SPDX-License-Identifier: MIT
#include "common.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <unistd.h>

#ifndef ASYNCDEV_VERSION
#define ASYNCDEV_VERSION "unknown"
#endif

namespace tool {

const char* prog = "asyncdev-tool";

namespace {
void vmsg(const char* fmt, va_list ap)
{
    std::fflush(stdout);
    std::fprintf(stderr, "%s: ", prog);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
}
} // namespace

void warn(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
}

void fail(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    std::exit(exit_fail);
}

void usage_error(const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "Try '%s --help' for more information.\n", prog);
    std::exit(exit_usage);
}

void print_version()
{
    std::printf("%s (asyncdev) %s\n", prog, ASYNCDEV_VERSION);
}

std::string open_error(const char* path, int err)
{
    std::string msg = std::strerror(err);
    if (err == ENOENT && path && std::strncmp(path, "/dev/async", 10) == 0 &&
        ::access("/sys/module/asyncdev", F_OK) != 0)
        msg += " (the asyncdev module is not loaded: run 'modprobe asyncdev', or 'insmod "
               "asyncdev.ko' from a build tree)";
    return msg;
}

bool parse_u64(const char* s, std::uint64_t& out)
{
    if (!s || !*s || !std::isdigit(static_cast<unsigned char>(*s)))
        return false;
    // Base 16 only after 0x: base 0 would read a leading 0 as octal,
    // unlike the size and duration parsers (strtod).
    const bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, hex ? 16 : 10);
    if (errno || *end)
        return false;
    out = v;
    return true;
}

bool parse_double(const char* s, double& out)
{
    if (!s || !*s)
        return false;
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (errno || *end || !std::isfinite(v) || v < 0)
        return false;
    out = v;
    return true;
}

namespace {
// Number with an optional suffix from `units` (suffix -> multiplier).
struct Unit {
    const char* suffix;
    double mult;
};
bool parse_scaled(const char* s, const Unit* units, std::size_t n, std::uint64_t& out)
{
    if (!s || !*s || !std::isdigit(static_cast<unsigned char>(*s)))
        return false;
    char* end = nullptr;
    errno = 0;
    if (std::strncmp(s, "0x", 2) == 0 || std::strncmp(s, "0X", 2) == 0)
        return parse_u64(s, out);
    const double v = std::strtod(s, &end);
    if (errno || !std::isfinite(v) || v < 0)
        return false;
    double mult = 1;
    if (*end) {
        bool found = false;
        for (std::size_t i = 0; i < n; ++i)
            if (std::strcmp(end, units[i].suffix) == 0) {
                mult = units[i].mult;
                found = true;
                break;
            }
        if (!found)
            return false;
    }
    const double r = v * mult;
    if (r > 1.8e19 || r != std::floor(r))
        return false;
    out = static_cast<std::uint64_t>(r);
    return true;
}
} // namespace

bool parse_duration_ns(const char* s, std::uint64_t& out)
{
    static const Unit units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
    return parse_scaled(s, units, std::size(units), out);
}

bool parse_bytes(const char* s, std::uint64_t& out)
{
    static const Unit units[] = {{"k", 1024.0}, {"K", 1024.0}, {"m", 1048576.0},
                                 {"M", 1048576.0}, {"g", 1073741824.0}, {"G", 1073741824.0}};
    return parse_scaled(s, units, std::size(units), out);
}

int parse_errno(const char* s)
{
    if (!s || !*s)
        return -1;
    std::uint64_t v;
    if (parse_u64(s, v))
        return v >= 1 && v < ASYNCDEV_FAULT_ERRNO_LIMIT ? static_cast<int>(v) : -1;
    std::string up(s);
    for (char& c : up)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (int e = 1; e < ASYNCDEV_FAULT_ERRNO_LIMIT; ++e) {
        const char* name = strerrorname_np(e);
        if (name && up == name)
            return e;
    }
    return -1;
}

std::string errno_name(int err)
{
    const char* name = strerrorname_np(err);
    return name ? name : std::to_string(err);
}

SettingError parse_setting(const std::string& arg, Setting& out)
{
    const auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0)
        return SettingError::not_key_value;
    out.key = arg.substr(0, eq);
    out.text = arg.substr(eq + 1);
    out.value = 0;
    bool ok;
    if (out.key == "latency_ns" || out.key == "jitter_ns" || out.key == "latency" ||
        out.key == "jitter") {
        if (out.key.find('_') == std::string::npos)
            out.key += "_ns";
        ok = parse_duration_ns(out.text.c_str(), out.value);
    } else if (out.key == "channels" || out.key == "produce_hz") {
        ok = parse_u64(out.text.c_str(), out.value) && out.value <= UINT32_MAX;
    } else {
        return SettingError::unknown_key;
    }
    return ok ? SettingError::ok : SettingError::bad_value;
}

std::vector<std::string> split(const std::string& s, char sep)
{
    std::vector<std::string> v;
    std::string cur;
    for (char ch : s) {
        if (ch == sep) {
            v.push_back(cur);
            cur.clear();
        } else {
            cur += ch;
        }
    }
    v.push_back(cur);
    return v;
}

bool parse_name_list(const std::string& list, const std::vector<std::string>& names,
                     std::vector<std::string>& out, std::string& bad)
{
    for (const std::string& m : split(list, ',')) {
        if (m == "all") {
            out = names; // replaces what came before, earlier lists included
            continue;
        }
        if (std::find(names.begin(), names.end(), m) == names.end()) {
            bad = m;
            return false;
        }
        out.push_back(m);
    }
    return true;
}

std::uint64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t percentile_sorted(const std::vector<std::uint64_t>& v, double p)
{
    if (v.empty())
        return 0;
    // Nearest rank: the smallest value with at least p% of the samples <= it.
    double rank = std::ceil(p / 100.0 * static_cast<double>(v.size()));
    std::size_t i = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
    return v[std::min(i, v.size() - 1)];
}

std::uint64_t percentile(std::vector<std::uint64_t>& v, double p)
{
    std::sort(v.begin(), v.end());
    return percentile_sorted(v, p);
}

std::string json_escape(std::string_view s)
{
    std::string out;
    for (char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += c;
            }
        }
    }
    return out;
}

void fill_record(std::byte* buf, std::size_t size, std::uint64_t seq, std::uint64_t timestamp_ns)
{
    asyncdev_record h{};
    h.magic = ASYNCDEV_RECORD_MAGIC;
    h.size = static_cast<__u32>(size);
    h.seq = seq;
    h.timestamp_ns = timestamp_ns;
    std::memcpy(buf, &h, record_header);
    auto* p = reinterpret_cast<std::uint8_t*>(buf + record_header);
    const std::size_t n = size - record_header;
    for (std::size_t i = 0; i < n; ++i)
        p[i] = static_cast<std::uint8_t>(seq + i);
}

asyncdev_record read_header(const std::byte* buf)
{
    asyncdev_record h{};
    std::memcpy(&h, buf, record_header);
    return h;
}

RecordStatus check_record(const std::byte* buf, std::size_t size)
{
    const asyncdev_record h = read_header(buf);
    if (h.magic != ASYNCDEV_RECORD_MAGIC)
        return RecordStatus::bad_magic;
    if (h.size != size || size < record_min || size > record_max)
        return RecordStatus::bad_size;
    const auto* p = reinterpret_cast<const std::uint8_t*>(buf + record_header);
    const std::size_t n = size - record_header;
    for (std::size_t i = 0; i < n; ++i)
        if (p[i] != static_cast<std::uint8_t>(h.seq + i))
            return RecordStatus::bad_payload;
    return RecordStatus::ok;
}

void RecordFramer::append(const std::byte* p, std::size_t n)
{
    buf_.insert(buf_.end(), p, p + n);
}

const std::byte* RecordFramer::next(asyncdev_record& h)
{
    while (buf_.size() - off_ >= record_header) {
        const std::byte* r = buf_.data() + off_;
        h = read_header(r);
        if (h.magic != ASYNCDEV_RECORD_MAGIC || h.size < record_min || h.size > record_max) {
            ++off_; // not a record start: resynchronise on the next magic
            ++junk_;
            continue;
        }
        if (buf_.size() - off_ < h.size)
            return nullptr; // the rest has not arrived yet
        off_ += h.size;
        return r;
    }
    return nullptr;
}

void RecordFramer::compact()
{
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(off_));
    off_ = 0;
}

} // namespace tool
