// Uring's vectored and timed forms on registered files and buffers:
// readv/writev on a FixedFile (regular file, and after update_file() the
// new file), linked timeouts on FixedFile / FixedBuffer / both (-ETIMEDOUT
// on an empty pipe, the bytes when data comes in time), and their
// preconditions (thrown before anything is prepared or submitted).
#include "uring_test_util.h"

#include <array>
#include <functional>

#include <sys/stat.h>
#include <stdexcept>

using namespace test;
using asyncdev::Uring;
using F = Uring::FixedFile;
using B = Uring::FixedBuffer;

namespace {

std::vector<std::byte> pread_all(int fd, std::size_t n, off_t off)
{
    std::vector<std::byte> v(n);
    assert_int_equal(::pread(fd, v.data(), n, off), static_cast<ssize_t>(n));
    return v;
}

} // namespace

// writev of two iovecs at 4096 lands there in the file; readv at 4100
// scatters the right bytes; after update_file() writev goes to the new file.
static void test_readv_writev_fixed_file(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    asyncdev::UniqueFd f1 = make_tmpfile(), f2 = make_tmpfile();
    io.register_files(std::array{-1, f1.get()});
    const auto a = pattern(100, 1), b = pattern(300, 2);
    const std::array wv{iovec{const_cast<std::byte*>(a.data()), a.size()},
                        iovec{const_cast<std::byte*>(b.data()), b.size()}};
    ssize_t w = pending, r = pending;
    io.writev(F{1}, wv, 4096, [&](ssize_t res) { w = res; });
    io.submit();
    assert_int_equal(wait_result(loop, w), 400);
    auto file = pread_all(f1.get(), 400, 4096);
    assert_memory_equal(file.data(), a.data(), 100);
    assert_memory_equal(file.data() + 100, b.data(), 300);

    std::vector<std::byte> r1(10), r2(200);
    const std::array rv{iovec{r1.data(), r1.size()}, iovec{r2.data(), r2.size()}};
    io.readv(F{1}, rv, 4100, [&](ssize_t res) { r = res; });
    io.submit();
    assert_int_equal(wait_result(loop, r), 210);
    assert_memory_equal(r1.data(), a.data() + 4, 10);
    assert_memory_equal(r2.data(), a.data() + 14, 86);
    assert_memory_equal(r2.data() + 86, b.data(), 114);

    io.update_file(F{1}, f2.get());
    w = pending;
    io.writev(F{1}, std::span(wv).subspan(1), 0, [&](ssize_t res) { w = res; });
    io.submit();
    assert_int_equal(wait_result(loop, w), 300);
    file = pread_all(f2.get(), 300, 0);
    assert_true(file == b);
    struct stat st{};
    assert_int_equal(::fstat(f1.get(), &st), 0);
    assert_int_equal(st.st_size, 4096 + 400); // f1 untouched by the last writev
    // An empty slot: -EBADF, as for read().
    r = pending;
    io.readv(F{0}, rv, 0, [&](ssize_t res) { r = res; });
    io.submit();
    assert_int_equal(wait_result(loop, r), -EBADF);
}

// Every fixed form with a linked timeout on an empty pipe: -ETIMEDOUT after
// the timeout, nothing left in flight, the pipe untouched.
static void test_linked_timeout_on_fixed_forms_times_out(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    Pair p = make_pipe();
    io.register_files(std::array{p.a.get()});
    RegBuf rb(io, 4096);
    std::vector<std::byte> plain(64);
    const iovec v{plain.data(), plain.size()};
    const std::function<asyncdev::RequestId(asyncdev::Completion)> forms[] = {
        [&](asyncdev::Completion cb) { return io.read(F{0}, plain, 0, std::move(cb), 30ms); },
        [&](asyncdev::Completion cb) {
            return io.read(p.a.get(), B{0}, rb.span(0, 64), 0, std::move(cb), 30ms);
        },
        [&](asyncdev::Completion cb) {
            return io.read(F{0}, B{0}, rb.span(64, 64), 0, std::move(cb), 30ms);
        },
        [&](asyncdev::Completion cb) {
            return io.readv(F{0}, std::span(&v, 1), 0, std::move(cb), 30ms);
        },
    };
    for (const auto& form : forms) {
        ssize_t r = pending;
        const auto start = Clock::now();
        form([&](ssize_t res) { r = res; });
        io.submit();
        assert_int_equal(wait_result(loop, r), -ETIMEDOUT);
        assert_true(Clock::now() - start >= 30ms);
        assert_int_equal(io.in_flight(), 0);
    }
    assert_int_equal(::write(p.b.get(), "z", 1), 1);
    char c;
    assert_int_equal(::read(p.a.get(), &c, 1), 1);
    io.unregister_files(); // no request holds them any more
    io.unregister_buffers();
}

// Data arriving in time: the bytes, and the linked timeout is gone.
static void test_linked_timeout_on_fixed_forms_completes_in_time(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    Pair p = make_pipe();
    io.register_files(std::array{p.a.get()});
    RegBuf rb(io, 4096);
    ssize_t r = pending;
    asyncdev::Timer w(loop, [&](std::uint64_t) { (void)!::write(p.b.get(), "in time", 7); });
    w.start(5ms);
    io.read(F{0}, B{0}, rb.span(10, 64), 0, [&](ssize_t res) { r = res; }, 2s);
    io.submit();
    assert_int_equal(wait_result(loop, r), 7);
    assert_memory_equal(rb.mem.data() + 10, "in time", 7);
    // A write on a fixed file with a timeout: done at once.
    Pair q = make_pipe();
    io.update_file(F{0}, q.b.get());
    r = pending;
    io.write(F{0}, bytes("out"), 0, [&](ssize_t res) { r = res; }, 2s);
    io.submit();
    assert_int_equal(wait_result(loop, r), 3);
    char got[3];
    assert_int_equal(::read(q.a.get(), got, 3), 3);
    assert_memory_equal(got, "out", 3);
    loop.run_once(20ms);
    assert_int_equal(io.in_flight(), 0);
}

// Each precondition of the new forms throws before anything is prepared:
// nothing queued or in flight, the callback never runs, and no request
// holds the registration (unregistering works afterwards).
static void test_preconditions_throw_before_anything_is_prepared(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    asyncdev::UniqueFd f = make_tmpfile();
    io.register_files(std::array{f.get()});
    RegBuf rb(io, 4096);
    std::vector<std::byte> other(64);
    const iovec v{other.data(), other.size()};
    int calls = 0;
    auto cb = [&](ssize_t) { ++calls; };
    expect_throw<std::out_of_range>([&] { io.readv(F{1}, std::span(&v, 1), 0, cb); },
                                    "registered file 1 out of range (1 registered)");
    expect_throw<std::out_of_range>([&] { io.writev(F{7}, std::span(&v, 1), 0, cb, 1s); },
                                    "registered file 7 out of range");
    expect_throw<std::out_of_range>([&] { io.read(F{1}, other, 0, cb, 1s); },
                                    "asyncdev::Uring::read: registered file 1");
    expect_throw<std::out_of_range>([&] { io.read(f.get(), B{1}, rb.span(0, 8), 0, cb, 1s); },
                                    "registered buffer 1 out of range");
    expect_throw<std::invalid_argument>([&] { io.read(F{0}, B{0}, other, 0, cb, 1s); },
                                        "is not inside registered buffer 0");
    expect_throw<std::invalid_argument>(
        [&] { io.write(f.get(), B{0}, rb.span(4000, 97), 0, cb, 1s); },
        "is not inside registered buffer 0");
    expect_throw<std::invalid_argument>([&] { io.read(F{0}, other, 0, cb, -1ns); },
                                        "asyncdev::Uring::read: negative timeout");
    expect_throw<std::invalid_argument>(
        [&] { io.writev(F{0}, std::span(&v, 1), 0, cb, -5ms); },
        "asyncdev::Uring::writev: negative timeout");
    assert_int_equal(io.queued(), 0);
    assert_int_equal(io.in_flight(), 0);
    assert_int_equal(io.submit(), 0);
    loop.run_once(10ms);
    assert_int_equal(calls, 0);
    io.unregister_files();
    io.unregister_buffers();
}

// A readv or a timed read on a FixedFile holds the registration from its
// preparation: unregister_files() is refused until its callback.
static void test_unregister_refused_while_new_forms_exist(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    Pair p = make_pipe();
    io.register_files(std::array{p.a.get()});
    RegBuf rb(io, 4096);
    std::vector<std::byte> buf(16);
    const iovec v{buf.data(), buf.size()};
    ssize_t r1 = pending, r2 = pending;
    io.readv(F{0}, std::span(&v, 1), 0, [&](ssize_t res) { r1 = res; });
    expect_throw<std::logic_error>([&] { io.unregister_files(); },
                                   "1 request(s) still use the registered files");
    io.read(p.a.get(), B{0}, rb.span(0, 16), 0, [&](ssize_t res) { r2 = res; }, 10s);
    expect_throw<std::logic_error>([&] { io.unregister_buffers(); },
                                   "1 request(s) still use the registered buffers");
    io.submit();
    loop.run_once(5ms);
    expect_throw<std::logic_error>([&] { io.unregister_files(); }, "still use");
    assert_int_equal(io.registered_files(), 1);
    assert_int_equal(::write(p.b.get(), "abcdefghijklmnopqrstuvwxyz012345", 32), 32);
    assert_int_equal(wait_result(loop, r1), 16);
    assert_int_equal(wait_result(loop, r2), 16);
    io.unregister_files();
    io.unregister_buffers();
    assert_int_equal(io.registered_files(), 0);
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_readv_writev_fixed_file),
        cmocka_unit_test(test_linked_timeout_on_fixed_forms_times_out),
        cmocka_unit_test(test_linked_timeout_on_fixed_forms_completes_in_time),
        cmocka_unit_test(test_preconditions_throw_before_anything_is_prepared),
        cmocka_unit_test(test_unregister_refused_while_new_forms_exist),
    };
    return cmocka_run_group_tests_name("uring_fixed_forms", tests, nullptr, nullptr);
}
