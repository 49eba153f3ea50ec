// SPDX-License-Identifier: MIT
// A minimal JSON reader, enough for asyncdev-bench --plot-from (reads back
// the files asyncdev-bench --json writes).
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tool::json {

struct Value {
    enum class Type { null, boolean, number, string, array, object } type = Type::null;
    bool b = false;
    double num = 0;
    std::string str;
    std::vector<Value> arr;
    std::map<std::string, Value> obj;

    const Value* get(const std::string& key) const
    {
        auto it = obj.find(key);
        return it == obj.end() ? nullptr : &it->second;
    }
    double number(const std::string& key, double dflt = 0) const
    {
        const Value* v = get(key);
        return v && v->type == Type::number ? v->num : dflt;
    }
    std::string string(const std::string& key, const std::string& dflt = "") const
    {
        const Value* v = get(key);
        return v && v->type == Type::string ? v->str : dflt;
    }
};

/// Throws std::runtime_error("offset N: ...") on malformed input, and on
/// arrays/objects nested more than 512 deep.
Value parse(const std::string& text);

} // namespace tool::json
