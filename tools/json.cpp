// SPDX-License-Identifier: MIT
#include "json.h"

#include <cctype>
#include <cstdlib>

namespace tool::json {

namespace {

class Parser {
public:
    explicit Parser(const std::string& t) : t_(t) {}

    Value document()
    {
        Value v = value();
        ws();
        if (i_ != t_.size())
            error("trailing characters");
        return v;
    }

private:
    [[noreturn]] void error(const std::string& what)
    {
        throw std::runtime_error("offset " + std::to_string(i_) + ": " + what);
    }
    void ws()
    {
        while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_])))
            ++i_;
    }
    bool eat(char c)
    {
        ws();
        if (i_ < t_.size() && t_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    void expect(char c)
    {
        if (!eat(c))
            error(std::string("expected '") + c + "'");
    }
    bool word(const char* w)
    {
        const std::string s(w);
        if (t_.compare(i_, s.size(), s) == 0) {
            i_ += s.size();
            return true;
        }
        return false;
    }

    std::string string()
    {
        expect('"');
        std::string out;
        while (i_ < t_.size() && t_[i_] != '"') {
            char c = t_[i_++];
            if (c == '\\') {
                if (i_ >= t_.size())
                    error("bad escape");
                char e = t_[i_++];
                switch (e) {
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'r': out += '\r'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'u': {
                    if (i_ + 4 > t_.size())
                        error("bad \\u escape");
                    const long cp = std::strtol(t_.substr(i_, 4).c_str(), nullptr, 16);
                    i_ += 4;
                    out += cp < 0x80 ? static_cast<char>(cp) : '?';
                    break;
                }
                default: out += e;
                }
            } else {
                out += c;
            }
        }
        if (i_ >= t_.size())
            error("unterminated string");
        ++i_;
        return out;
    }

    // Arrays and objects nest by recursion: bound it, or a file of a
    // million '[' overflows the stack (asyncdev-bench --plot-from crashed
    // with SIGSEGV; tests/fuzz/fuzz_json checks the bound).
    static constexpr int max_depth = 512;

    Value value()
    {
        ws();
        if (i_ >= t_.size())
            error("unexpected end");
        Value v;
        const char c = t_[i_];
        if ((c == '{' || c == '[') && depth_ >= max_depth)
            error("nesting too deep");
        struct Nest {
            int& d;
            explicit Nest(int& depth) : d(++depth) {}
            ~Nest() { --d; }
        } nest(depth_);
        if (c == '{') {
            ++i_;
            v.type = Value::Type::object;
            if (eat('}'))
                return v;
            do {
                ws();
                std::string k = string();
                expect(':');
                v.obj[k] = value();
            } while (eat(','));
            expect('}');
        } else if (c == '[') {
            ++i_;
            v.type = Value::Type::array;
            if (eat(']'))
                return v;
            do
                v.arr.push_back(value());
            while (eat(','));
            expect(']');
        } else if (c == '"') {
            v.type = Value::Type::string;
            v.str = string();
        } else if (word("true")) {
            v.type = Value::Type::boolean;
            v.b = true;
        } else if (word("false")) {
            v.type = Value::Type::boolean;
        } else if (word("null")) {
        } else {
            const char* start = t_.c_str() + i_;
            char* end = nullptr;
            v.num = std::strtod(start, &end);
            if (end == start)
                error("unexpected character");
            v.type = Value::Type::number;
            i_ += static_cast<std::size_t>(end - start);
        }
        return v;
    }

    const std::string& t_;
    std::size_t i_ = 0;
    int depth_ = 0;
};

} // namespace

Value parse(const std::string& text)
{
    return Parser(text).document();
}

} // namespace tool::json
