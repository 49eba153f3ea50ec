// libFuzzer target: the JSON reader of asyncdev-bench --plot-from
// (tools/json.cpp). Properties: malformed input throws std::runtime_error
// "offset N: ..." (N within the text) and nothing else escapes; what parses
// writes back (a minimal writer below) to text that parses to the same
// value and writes back identically; json_escape()d text inside quotes
// parses back to the very bytes; nesting is bounded, not a stack overflow.
#include "common.h"
#include "json.h"
#include "fuzz_check.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

using tool::json::Value;

std::string dump(const Value& v)
{
    switch (v.type) {
    case Value::Type::null: return "null";
    case Value::Type::boolean: return v.b ? "true" : "false";
    case Value::Type::number: {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", v.num); // round-trips every double
        return buf;
    }
    case Value::Type::string: return "\"" + tool::json_escape(v.str) + "\"";
    case Value::Type::array: {
        std::string s = "[";
        for (std::size_t i = 0; i < v.arr.size(); ++i)
            s += (i ? "," : "") + dump(v.arr[i]);
        return s + "]";
    }
    case Value::Type::object: {
        std::string s = "{";
        bool first = true;
        for (const auto& [k, e] : v.obj) {
            s += (first ? "\"" : ",\"") + tool::json_escape(k) + "\":" + dump(e);
            first = false;
        }
        return s + "}";
    }
    }
    std::abort();
}

bool same(const Value& a, const Value& b)
{
    if (a.type != b.type)
        return false;
    switch (a.type) {
    case Value::Type::null: return true;
    case Value::Type::boolean: return a.b == b.b;
    case Value::Type::number:
        return (std::isnan(a.num) && std::isnan(b.num)) ||
               (a.num == b.num && std::signbit(a.num) == std::signbit(b.num));
    case Value::Type::string: return a.str == b.str;
    case Value::Type::array:
        if (a.arr.size() != b.arr.size())
            return false;
        for (std::size_t i = 0; i < a.arr.size(); ++i)
            if (!same(a.arr[i], b.arr[i]))
                return false;
        return true;
    case Value::Type::object:
        if (a.obj.size() != b.obj.size())
            return false;
        for (auto ia = a.obj.begin(), ib = b.obj.begin(); ia != a.obj.end(); ++ia, ++ib)
            if (ia->first != ib->first || !same(ia->second, ib->second))
                return false;
        return true;
    }
    return false;
}

// Parses; on the documented error checks its form and returns false.
bool try_parse(const std::string& text, Value& out)
{
    try {
        out = tool::json::parse(text);
        return true;
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        FUZZ_CHECK(what.rfind("offset ", 0) == 0);
        char* end = nullptr;
        const unsigned long long off = std::strtoull(what.c_str() + 7, &end, 10);
        FUZZ_CHECK(end != what.c_str() + 7 && end[0] == ':' && end[1] == ' ');
        FUZZ_CHECK(off <= text.size());
        return false;
    }
    // Anything else (std::out_of_range, std::length_error ...) escapes:
    // libFuzzer reports it as a crash.
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);

    Value v;
    if (try_parse(text, v)) {
        const std::string once = dump(v);
        Value again;
        FUZZ_CHECK(try_parse(once, again));
        FUZZ_CHECK(same(v, again));
        FUZZ_CHECK(dump(again) == once);
    }

    // Any bytes, escaped, are a JSON string of exactly those bytes.
    Value s;
    FUZZ_CHECK(try_parse("\"" + tool::json_escape(text) + "\"", s));
    FUZZ_CHECK(s.type == Value::Type::string && s.str == text);

    // Deep nesting is an error, not a stack overflow (512 levels allowed).
    if (size > 0 && size < 64 && data[0] == '[') {
        const std::size_t depth = 400 + size * 4; // 404..652
        const std::string deep = std::string(depth, '[') + std::string(depth, ']');
        Value d;
        FUZZ_CHECK(try_parse(deep, d) == (depth <= 512));
    }
    return 0;
}
