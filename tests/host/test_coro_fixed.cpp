// co_await async_read/async_write on Uring's registered files and buffers:
// the bytes of each form (FixedFile, fd + FixedBuffer, both), a stop_token
// cancelling and a (kernel, linked) timeout bounding one waiting on an
// empty pipe, unregistration refused while a coroutine is suspended on one,
// and preconditions leaving the co_await with nothing submitted.
#include "uring_test_util.h"

#include <array>
#include <stdexcept>
#include <stop_token>

using namespace test;
using asyncdev::IoOptions;
using asyncdev::Task;
using asyncdev::Uring;
using F = Uring::FixedFile;
using B = Uring::FixedBuffer;

// On a Uring the fixed forms take the kernel's linked timeout, as the fd form.
static_assert(asyncdev::detail::native_timeouts_v<Uring, std::tuple<int>>);
static_assert(asyncdev::detail::native_timeouts_v<Uring, std::tuple<F>>);
static_assert(asyncdev::detail::native_timeouts_v<Uring, std::tuple<int, B>>);
static_assert(asyncdev::detail::native_timeouts_v<Uring, std::tuple<F, B>>);
static_assert(!asyncdev::detail::native_timeouts_v<asyncdev::IoEngine, std::tuple<int>>);

namespace {

/// One Uring with slot 0 = `fd` and one registered buffer of 8 KiB.
struct Fixture {
    asyncdev::Loop loop;
    Uring io{loop, 8};
    RegBuf rb{io, 8192};
    explicit Fixture(int fd) { io.register_files(std::array{fd}); }
};

} // namespace

// Every form writes and reads the right bytes at the right offsets.
static void test_forms_move_the_right_bytes(void**)
{
    asyncdev::UniqueFd file = make_tmpfile();
    Fixture x(file.get());
    const int fd = file.get();
    const auto data = pattern(3000, 5);
    auto body = [&]() -> Task<void> {
        std::memcpy(x.rb.mem.data(), data.data(), data.size());
        assert_int_equal(co_await asyncdev::async_write(x.io, F{0}, std::span(data).first(1000), 0),
                         1000);
        assert_int_equal(
            co_await asyncdev::async_write(x.io, fd, B{0}, x.rb.span(1000, 1000), 1000), 1000);
        assert_int_equal(
            co_await asyncdev::async_write(x.io, F{0}, B{0}, x.rb.span(2000, 1000), 2000), 1000);
        std::vector<std::byte> plain(3000);
        assert_int_equal(co_await asyncdev::async_read(x.io, F{0}, plain, 0), 3000);
        assert_true(plain == data);
        assert_int_equal(co_await asyncdev::async_read(x.io, fd, B{0}, x.rb.span(4096, 500), 100),
                         500);
        assert_memory_equal(x.rb.mem.data() + 4096, data.data() + 100, 500);
        assert_int_equal(
            co_await asyncdev::async_read(x.io, F{0}, B{0}, x.rb.span(5000, 700), 2300), 700);
        assert_memory_equal(x.rb.mem.data() + 5000, data.data() + 2300, 700);
        // With a Loop and options that do not fire.
        std::stop_source src;
        assert_int_equal(co_await asyncdev::async_read(x.loop, x.io, F{0}, B{0},
                                                       x.rb.span(6000, 10), 7,
                                                       {src.get_token(), 2s}),
                         10);
        assert_memory_equal(x.rb.mem.data() + 6000, data.data() + 7, 10);
        assert_int_equal(co_await asyncdev::async_write(x.loop, x.io, F{0}, bytes("tail"), 3000,
                                                        IoOptions(2s)),
                         4);
    };
    asyncdev::sync_wait(x.loop, body());
    std::vector<std::byte> back(3004);
    assert_int_equal(::pread(fd, back.data(), back.size(), 0), 3004);
    assert_memory_equal(back.data(), data.data(), 3000);
    assert_memory_equal(back.data() + 3000, "tail", 4);
    assert_int_equal(x.io.in_flight(), 0);
}

template <class... Where>
Task<ssize_t> read_opts(Fixture& x, IoOptions opts, Where... where)
{
    std::vector<std::byte> plain(16);
    if constexpr (sizeof...(Where) == 1)
        co_return co_await asyncdev::async_read(x.loop, x.io, where..., plain, 0, std::move(opts));
    else
        co_return co_await asyncdev::async_read(x.loop, x.io, where..., x.rb.span(0, 16), 0,
                                                std::move(opts));
}

// A stop_token cancels a FixedFile and a FixedFile+FixedBuffer read
// waiting on an empty pipe.
static void test_stop_cancels_waiting_fixed_read(void**)
{
    Pair p = make_pipe();
    Fixture x(p.a.get());
    for (int form = 0; form < 2; ++form) {
        std::stop_source src;
        asyncdev::Timer stopper(x.loop, [&](std::uint64_t) { src.request_stop(); });
        stopper.start(10ms);
        const ssize_t r = form == 0
                              ? asyncdev::sync_wait(x.loop, read_opts(x, src.get_token(), F{0}))
                              : asyncdev::sync_wait(x.loop,
                                                    read_opts(x, src.get_token(), F{0}, B{0}));
        assert_int_equal(r, -ECANCELED);
        assert_int_equal(x.io.in_flight(), 0);
    }
}

// A timeout bounds them: -ETIMEDOUT after it, the pipe untouched.
static void test_timeout_bounds_waiting_fixed_read(void**)
{
    Pair p = make_pipe();
    Fixture x(p.a.get());
    for (int form = 0; form < 3; ++form) {
        const auto start = Clock::now();
        ssize_t r = 0;
        if (form == 0)
            r = asyncdev::sync_wait(x.loop, read_opts(x, 30ms, F{0}));
        else if (form == 1)
            r = asyncdev::sync_wait(x.loop, read_opts(x, 30ms, p.a.get(), B{0}));
        else
            r = asyncdev::sync_wait(x.loop, read_opts(x, 30ms, F{0}, B{0}));
        const auto took = Clock::now() - start;
        assert_int_equal(r, -ETIMEDOUT);
        assert_true(took >= 30ms);
        assert_true(took < 2s);
        assert_int_equal(x.io.in_flight(), 0);
    }
    assert_int_equal(::write(p.b.get(), "z", 1), 1);
    char c;
    assert_int_equal(::read(p.a.get(), &c, 1), 1);
}

// unregister_files()/unregister_buffers() are refused while a coroutine is
// suspended on a fixed read, accepted once it has finished; destroying a
// suspended one releases the registration too.
static void test_unregister_refused_while_coroutine_suspended(void**)
{
    Pair p = make_pipe();
    Fixture x(p.a.get());
    Task<ssize_t> t = read_opts(x, {}, F{0}, B{0});
    t.start();
    x.loop.run_once(5ms);
    assert_false(t.done());
    expect_throw<std::logic_error>([&] { x.io.unregister_files(); },
                                   "1 request(s) still use the registered files");
    expect_throw<std::logic_error>([&] { x.io.unregister_buffers(); },
                                   "1 request(s) still use the registered buffers");
    assert_int_equal(x.io.registered_files(), 1);
    assert_int_equal(x.io.registered_buffers(), 1);
    assert_int_equal(::write(p.b.get(), "done", 4), 4);
    while (!t.done())
        x.loop.run_once(100ms);
    assert_int_equal(t.result(), 4);
    x.io.unregister_files();
    x.io.unregister_buffers();

    x.io.register_files(std::array{p.a.get()});
    {
        Task<ssize_t> u = read_opts(x, {}, F{0});
        u.start();
        x.loop.run_once(5ms);
        expect_throw<std::logic_error>([&] { x.io.unregister_files(); }, "still use");
    } // abandoned
    x.io.unregister_files();
}

// Preconditions leave the co_await as exceptions; nothing is submitted.
static void test_preconditions_leave_the_co_await(void**)
{
    asyncdev::UniqueFd file = make_tmpfile();
    Fixture x(file.get());
    std::vector<std::byte> other(16);
    auto read_file = [&](unsigned i) -> Task<ssize_t> {
        co_return co_await asyncdev::async_read(x.io, F{i}, other, 0);
    };
    auto read_buf = [&](unsigned i, std::span<std::byte> s) -> Task<ssize_t> {
        co_return co_await asyncdev::async_read(x.io, F{0}, B{i}, s, 0);
    };
    auto write_timed = [&](std::span<const std::byte> s) -> Task<ssize_t> {
        co_return co_await asyncdev::async_write(x.loop, x.io, file.get(), B{0}, s, 0,
                                                 IoOptions(1s));
    };
    expect_throw<std::out_of_range>([&] { asyncdev::sync_wait(x.loop, read_file(1)); },
                                    "registered file 1 out of range (1 registered)");
    expect_throw<std::out_of_range>(
        [&] { asyncdev::sync_wait(x.loop, read_buf(1, x.rb.span(0, 8))); },
        "registered buffer 1 out of range");
    expect_throw<std::invalid_argument>(
        [&] { asyncdev::sync_wait(x.loop, read_buf(0, other)); },
        "is not inside registered buffer 0");
    expect_throw<std::invalid_argument>(
        [&] { asyncdev::sync_wait(x.loop, write_timed(x.rb.span(8000, 193))); },
        "is not inside registered buffer 0");
    expect_throw<std::invalid_argument>(
        [&] { (void)asyncdev::async_read(x.loop, x.io, F{0}, other, 0, IoOptions(-1ms)); },
        "asyncdev::async_read: negative timeout");
    assert_int_equal(x.io.queued(), 0);
    assert_int_equal(x.io.in_flight(), 0);
    x.io.unregister_files();
    x.io.unregister_buffers();
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_forms_move_the_right_bytes),
        cmocka_unit_test(test_stop_cancels_waiting_fixed_read),
        cmocka_unit_test(test_timeout_bounds_waiting_fixed_read),
        cmocka_unit_test(test_unregister_refused_while_coroutine_suspended),
        cmocka_unit_test(test_preconditions_leave_the_co_await),
    };
    return cmocka_run_group_tests_name("coro_fixed", tests, nullptr, nullptr);
}
