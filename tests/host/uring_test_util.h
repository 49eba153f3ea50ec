// Helpers of the Uring registered-files/buffers tests (test_uring_registered,
// test_uring_fixed_forms, test_coro_fixed).
#pragma once

#include "test_util.h"

#include <asyncdev/uring.h>

#include <cstring>
#include <span>
#include <vector>

namespace test {

/// A result not yet delivered (no errno is this large).
constexpr ssize_t pending = -100000;

/// One registered buffer of `n` bytes (vector storage).
struct RegBuf {
    explicit RegBuf(asyncdev::Uring& io, std::size_t n) : mem(n)
    {
        const iovec v{mem.data(), mem.size()};
        io.register_buffers(std::span(&v, 1));
    }
    std::span<std::byte> span(std::size_t off, std::size_t n) { return {mem.data() + off, n}; }
    std::vector<std::byte> mem;
};

/// Runs `loop` until `res` is no longer `pending` (fails after 5 s).
inline ssize_t wait_result(asyncdev::Loop& loop, const ssize_t& res)
{
    if (!run_until(loop, [&] { return res != pending; }))
        fail_msg("request did not complete");
    return res;
}

/// Expects `f()` to throw E whose what() contains `text`.
template <class E, class Fn>
void expect_throw(Fn f, const char* text)
{
    try {
        f();
    } catch (const E& e) {
        if (!std::strstr(e.what(), text))
            fail_msg("message '%s' lacks '%s'", e.what(), text);
        return;
    }
    fail_msg("no exception (expected one containing '%s')", text);
}

} // namespace test
