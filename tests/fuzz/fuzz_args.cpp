// libFuzzer target: the option-value parsers of the tools (tools/common.cpp):
// parse_u64, parse_double, parse_duration_ns, parse_bytes, parse_errno,
// parse_setting (asyncdevctl set KEY=VALUE), split and parse_name_list
// (asyncdev-bench --models). The input is one command-line argument (up to
// its first NUL, as argv would carry it); its first 8 bytes also seed
// values for format-then-parse round trips.
#include "common.h"
#include "fuzz_check.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Doubles hold every integer up to 2^53 exactly; the suffix parsers
// (parse_duration_ns, parse_bytes) compute in double, so exact results are
// promised only below that (every tool's range ends far below).
constexpr std::uint64_t exact = std::uint64_t{1} << 53;

const std::vector<std::string> models = {"blocking",  "nonblock", "epoll", "sigio",
                                         "posix-aio", "libaio",   "uring"};

bool plain_decimal(const std::string& s)
{
    if (s.empty() || s.size() > 19)
        return false;
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c)))
            return false;
    return true;
}

bool hex(const std::string& s)
{
    return s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

std::uint64_t load64(const std::uint8_t* d, std::size_t n)
{
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < n && i < 8; ++i)
        x |= std::uint64_t{d[i]} << (8 * i);
    return x;
}

void check_numbers(const std::string& arg)
{
    const char* c = arg.c_str();
    std::uint64_t u = 0, ns = 0, b = 0;
    double d = 0;
    const bool ok_u = tool::parse_u64(c, u);
    const bool ok_d = tool::parse_double(c, d);
    const bool ok_ns = tool::parse_duration_ns(c, ns);
    const bool ok_b = tool::parse_bytes(c, b);
    if (ok_d)
        FUZZ_CHECK(std::isfinite(d) && d >= 0);
    // Every integer parser wants a digit first (no sign, no space).
    if (ok_u || ok_ns || ok_b)
        FUZZ_CHECK(std::isdigit(static_cast<unsigned char>(c[0])));
    if (ok_u && hex(arg)) {
        // 0x... goes to parse_u64 in the suffix parsers too: same value.
        FUZZ_CHECK(ok_ns && ns == u);
        FUZZ_CHECK(ok_b && b == u);
    }
    if (!plain_decimal(arg))
        return;
    // A plain decimal (leading zeros too) means the same number to all.
    FUZZ_CHECK(ok_u);
    if (u < exact) {
        FUZZ_CHECK(ok_ns && ns == u);
        FUZZ_CHECK(ok_b && b == u);
        FUZZ_CHECK(ok_d && d == static_cast<double>(u));
    }
    // Suffixes scale exactly, and each parser refuses the other's.
    static const struct {
        const char* suffix;
        std::uint64_t mult;
    } sizes[] = {{"k", 1024},    {"K", 1024},    {"m", 1u << 20},
                 {"M", 1u << 20}, {"g", 1u << 30}, {"G", 1u << 30}},
      durations[] = {{"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}};
    for (const auto& s : sizes) {
        const std::string t = arg + s.suffix;
        std::uint64_t v = 0;
        if (u <= exact / s.mult)
            FUZZ_CHECK(tool::parse_bytes(t.c_str(), v) && v == u * s.mult);
        FUZZ_CHECK(!tool::parse_duration_ns(t.c_str(), v));
        FUZZ_CHECK(!tool::parse_u64(t.c_str(), v));
    }
    for (const auto& s : durations) {
        const std::string t = arg + s.suffix;
        std::uint64_t v = 0;
        if (u <= exact / s.mult)
            FUZZ_CHECK(tool::parse_duration_ns(t.c_str(), v) && v == u * s.mult);
        FUZZ_CHECK(!tool::parse_bytes(t.c_str(), v));
    }
}

void check_number_round_trips(std::uint64_t x)
{
    std::uint64_t v = 0;
    const std::string dec = std::to_string(x);
    FUZZ_CHECK(tool::parse_u64(dec.c_str(), v) && v == x);
    char hexbuf[32];
    std::snprintf(hexbuf, sizeof hexbuf, "0x%llx", static_cast<unsigned long long>(x));
    FUZZ_CHECK(tool::parse_u64(hexbuf, v) && v == x);
    FUZZ_CHECK(tool::parse_bytes(hexbuf, v) && v == x);
    FUZZ_CHECK(tool::parse_duration_ns(hexbuf, v) && v == x);
    if (x < exact) {
        FUZZ_CHECK(tool::parse_bytes(dec.c_str(), v) && v == x);
        FUZZ_CHECK(tool::parse_duration_ns(dec.c_str(), v) && v == x);
    }
}

void check_errno(const std::string& arg, std::uint64_t x)
{
    const int e = tool::parse_errno(arg.c_str());
    FUZZ_CHECK(e == -1 || (e >= 1 && e < ASYNCDEV_FAULT_ERRNO_LIMIT));
    std::uint64_t n = 0;
    if (e > 0 && !tool::parse_u64(arg.c_str(), n)) {
        // By name: the name, case aside, is glibc's name for that number.
        std::string up = arg;
        for (char& ch : up)
            ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        FUZZ_CHECK(up == tool::errno_name(e));
    }
    // errno_name -> parse_errno, in either case.
    const int err = static_cast<int>(1 + x % (ASYNCDEV_FAULT_ERRNO_LIMIT - 1));
    const std::string name = tool::errno_name(err);
    FUZZ_CHECK(tool::parse_errno(name.c_str()) == err);
    std::string lower = name;
    for (char& ch : lower)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    FUZZ_CHECK(tool::parse_errno(lower.c_str()) == err);
}

bool known_key(const std::string& k)
{
    return k == "latency_ns" || k == "jitter_ns" || k == "channels" || k == "produce_hz";
}

void check_setting(const std::string& arg, std::uint64_t x)
{
    tool::Setting s;
    const auto eq = arg.find('=');
    switch (tool::parse_setting(arg, s)) {
    case tool::SettingError::ok: {
        FUZZ_CHECK(known_key(s.key));
        FUZZ_CHECK(s.text == arg.substr(eq + 1));
        if (s.key == "channels" || s.key == "produce_hz")
            FUZZ_CHECK(s.value <= UINT32_MAX);
        // Format it back (key=decimal): the same setting.
        if (s.value < exact) {
            tool::Setting again;
            FUZZ_CHECK(tool::parse_setting(s.key + "=" + std::to_string(s.value), again) ==
                       tool::SettingError::ok);
            FUZZ_CHECK(again.key == s.key && again.value == s.value);
        }
        break;
    }
    case tool::SettingError::not_key_value:
        FUZZ_CHECK(eq == std::string::npos || eq == 0);
        break;
    case tool::SettingError::unknown_key:
        FUZZ_CHECK(s.key == arg.substr(0, eq));
        FUZZ_CHECK(!known_key(s.key) && s.key != "latency" && s.key != "jitter");
        break;
    case tool::SettingError::bad_value:
        FUZZ_CHECK(known_key(s.key));
        FUZZ_CHECK(s.text == arg.substr(eq + 1));
        break;
    }
    // A setting made from x: format, parse, same.
    static const char* const keys[] = {"latency_ns", "jitter_ns", "channels", "produce_hz",
                                       "latency",    "jitter"};
    const std::string key = keys[x % 6];
    const bool duration = x % 6 < 2 || x % 6 > 3;
    const std::uint64_t value = (x >> 8) % (duration ? exact : std::uint64_t{UINT32_MAX} + 1);
    tool::Setting made;
    FUZZ_CHECK(tool::parse_setting(key + "=" + std::to_string(value), made) ==
               tool::SettingError::ok);
    FUZZ_CHECK(made.value == value);
    FUZZ_CHECK(made.key == (x % 6 > 3 ? key + "_ns" : key));
}

void check_lists(const std::string& arg, std::uint64_t x)
{
    // split: as many fields as separators + 1, and they join back.
    const std::vector<std::string> fields = tool::split(arg, ',');
    std::string joined;
    for (std::size_t i = 0; i < fields.size(); ++i)
        joined += (i ? "," : "") + fields[i];
    FUZZ_CHECK(joined == arg);
    std::size_t commas = 0;
    for (char ch : arg)
        commas += ch == ',';
    FUZZ_CHECK(fields.size() == commas + 1);

    std::vector<std::string> out;
    std::string bad;
    const bool ok = tool::parse_name_list(arg, models, out, bad);
    bool has_all = false;
    for (const std::string& f : fields)
        has_all |= f == "all";
    if (ok) {
        for (const std::string& m : out)
            FUZZ_CHECK(std::find(models.begin(), models.end(), m) != models.end());
        if (!has_all)
            FUZZ_CHECK(out == fields);
    } else {
        FUZZ_CHECK(bad != "all" && std::find(models.begin(), models.end(), bad) == models.end());
        FUZZ_CHECK(std::find(fields.begin(), fields.end(), bad) != fields.end());
    }
    // A list made from the bits of x: format, parse, same.
    std::vector<std::string> pick;
    std::string list;
    for (std::size_t i = 0; i < models.size(); ++i)
        if (x >> i & 1) {
            pick.push_back(models[i]);
            list += (list.empty() ? "" : ",") + models[i];
        }
    if (!pick.empty()) {
        std::vector<std::string> got;
        FUZZ_CHECK(tool::parse_name_list(list, models, got, bad) && got == pick);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::string arg(reinterpret_cast<const char*>(data), size);
    arg.resize(std::strlen(arg.c_str())); // argv strings end at a NUL
    const std::uint64_t x = load64(data, size);
    check_numbers(arg);
    check_number_round_trips(x);
    check_errno(arg, x);
    check_setting(arg, x);
    check_lists(arg, x);
    return 0;
}
