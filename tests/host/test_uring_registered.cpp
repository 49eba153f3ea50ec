// Uring registered files and buffers (issue 16): reads and writes through
// a FixedFile and a FixedBuffer on regular files, pipes and eventfds; the
// preconditions (nothing submitted when one fails); a registration outliving
// the fd it was made from; unregistration refused while requests use it;
// RLIMIT_MEMLOCK; destruction and fork with registrations.
#include "uring_test_util.h"

#include <array>
#include <stdexcept>
#include <thread>

#include <linux/capability.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

using namespace test;
using asyncdev::Uring;
using F = Uring::FixedFile;
using B = Uring::FixedBuffer;

namespace {

/// Sets or clears CAP_IPC_LOCK in the effective set (root: it is permitted).
void set_ipc_lock(bool on)
{
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &hdr, data) < 0)
        fail_msg("capget: %s", std::strerror(errno));
    if (on)
        data[0].effective |= 1u << CAP_IPC_LOCK;
    else
        data[0].effective &= ~(1u << CAP_IPC_LOCK);
    if (::syscall(SYS_capset, &hdr, data) < 0)
        fail_msg("capset: %s", std::strerror(errno));
}

bool has_ipc_lock_permitted()
{
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &hdr, data) < 0)
        fail_msg("capget: %s", std::strerror(errno));
    return data[0].permitted & (1u << CAP_IPC_LOCK);
}

} // namespace

// Write through a fixed file + fixed buffer, read back the same way into
// another part of the buffer; the file holds what was written.
static void test_round_trip_regular_file(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    asyncdev::UniqueFd f = make_tmpfile();
    io.register_files(std::array{f.get()});
    RegBuf rb(io, 3 * 4096);
    assert_int_equal(io.registered_files(), 1);
    assert_int_equal(io.registered_buffers(), 1);
    const auto out = pattern(4096, 9);
    std::memcpy(rb.mem.data() + 100, out.data(), out.size());
    ssize_t w = pending, r = pending;
    io.write(F{0}, B{0}, rb.span(100, 4096), 8192, [&](ssize_t res) { w = res; });
    io.submit();
    assert_int_equal(wait_result(loop, w), 4096);
    std::vector<std::byte> file(4096);
    assert_int_equal(::pread(f.get(), file.data(), file.size(), 8192), 4096);
    assert_true(file == out);
    io.read(F{0}, B{0}, rb.span(8192, 4096), 8192, [&](ssize_t res) { r = res; });
    io.submit();
    assert_int_equal(wait_result(loop, r), 4096);
    assert_memory_equal(rb.mem.data() + 8192, out.data(), 4096);
}

// A fixed file with an ordinary buffer, and an fd with a fixed buffer.
static void test_fixed_file_alone_and_fixed_buffer_alone(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    asyncdev::UniqueFd f = make_tmpfile();
    io.register_files(std::array{-1, f.get()}); // slot 0 empty
    RegBuf rb(io, 4096);
    const auto out = pattern(1000, 4);
    ssize_t w = pending, r = pending, e = pending;
    io.write(F{1}, out, 0, [&](ssize_t res) { w = res; });
    io.submit();
    assert_int_equal(wait_result(loop, w), 1000);
    io.read(f.get(), B{0}, rb.span(0, 1000), 0, [&](ssize_t res) { r = res; });
    io.read(F{0}, rb.span(0, 10), 0, [&](ssize_t res) { e = res; }); // the empty slot
    io.submit();
    assert_int_equal(wait_result(loop, r), 1000);
    assert_memory_equal(rb.mem.data(), out.data(), 1000);
    assert_int_equal(wait_result(loop, e), -EBADF);
}

// Both ends of a pipe registered: a read waiting on the empty pipe (fixed
// buffer) completes with what a fixed write puts in.
static void test_pipe(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    Pair p = make_pipe();
    io.register_files(std::array{p.a.get(), p.b.get()});
    RegBuf rb(io, 64);
    ssize_t r = pending, w = pending;
    io.read(F{0}, B{0}, rb.span(32, 32), 0, [&](ssize_t res) { r = res; });
    io.submit();
    loop.run_once(10ms);
    assert_int_equal(r, pending);
    assert_int_equal(io.in_flight(), 1);
    std::memcpy(rb.mem.data(), "fixed pipe", 10);
    io.write(F{1}, B{0}, rb.span(0, 10), 0, [&](ssize_t res) { w = res; });
    io.submit();
    assert_int_equal(wait_result(loop, w), 10);
    assert_int_equal(wait_result(loop, r), 10);
    assert_memory_equal(rb.mem.data() + 32, "fixed pipe", 10);
}

static void test_eventfd(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    asyncdev::UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
    assert_true(efd.get() >= 0);
    io.register_files(std::array{efd.get()});
    RegBuf rb(io, 16);
    const std::uint64_t add = 42;
    std::memcpy(rb.mem.data(), &add, 8);
    ssize_t w = pending, r = pending;
    io.write(F{0}, B{0}, rb.span(0, 8), 0, [&](ssize_t res) { w = res; });
    io.submit();
    assert_int_equal(wait_result(loop, w), 8);
    io.read(F{0}, B{0}, rb.span(8, 8), 0, [&](ssize_t res) { r = res; });
    io.submit();
    assert_int_equal(wait_result(loop, r), 8);
    std::uint64_t got = 0;
    std::memcpy(&got, rb.mem.data() + 8, 8);
    assert_int_equal(got, 42);
}

// A span not inside the registered buffer, an index out of range: an
// exception naming what is wrong, nothing prepared, no callback.
static void test_bad_span_or_index_submits_nothing(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    asyncdev::UniqueFd f = make_tmpfile();
    int calls = 0;
    auto cb = [&](ssize_t) { ++calls; };
    std::vector<std::byte> other(64);
    // Nothing registered yet.
    expect_throw<std::out_of_range>([&] { io.read(F{0}, other, 0, cb); },
                                    "registered file 0 out of range (0 registered)");
    expect_throw<std::out_of_range>([&] { io.read(f.get(), B{0}, other, 0, cb); },
                                    "registered buffer 0 out of range (0 registered)");
    io.register_files(std::array{f.get(), f.get()});
    RegBuf rb(io, 4096);
    expect_throw<std::out_of_range>([&] { io.write(F{2}, other, 0, cb); },
                                    "registered file 2 out of range (2 registered)");
    expect_throw<std::out_of_range>([&] { io.read(F{0}, B{1}, rb.span(0, 8), 0, cb); },
                                    "registered buffer 1 out of range (1 registered)");
    const std::span<std::byte> whole(rb.mem);
    // Past the end by one byte, starting before it, elsewhere, empty at null.
    const std::span<std::byte> bad[] = {
        {rb.mem.data() + 1, 4096},
        {rb.mem.data() - 1, 2},
        other,
        {},
    };
    for (std::span<std::byte> s : bad) {
        expect_throw<std::invalid_argument>([&] { io.read(F{0}, B{0}, s, 0, cb); },
                                            "not inside registered buffer 0");
        expect_throw<std::invalid_argument>([&] { io.write(f.get(), B{0}, s, 0, cb); },
                                            "asyncdev::Uring::write: the span");
    }
    assert_int_equal(io.queued(), 0);
    assert_int_equal(io.in_flight(), 0);
    assert_int_equal(io.submit(), 0);
    loop.run_once(10ms);
    assert_int_equal(calls, 0);
    // The bounds themselves are fine: all of it, and the empty span at its end.
    ssize_t a = pending, b = pending;
    io.read(F{1}, B{0}, whole, 0, [&](ssize_t res) { a = res; });
    io.read(F{1}, B{0}, whole.subspan(4096), 0, [&](ssize_t res) { b = res; });
    io.submit();
    assert_int_equal(wait_result(loop, a), 0); // the file is empty
    assert_int_equal(wait_result(loop, b), 0);
}

static void test_misuse_is_logic_error(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    asyncdev::UniqueFd f = make_tmpfile();
    std::vector<std::byte> mem(64);
    const iovec v{mem.data(), mem.size()};
    expect_throw<std::logic_error>([&] { io.unregister_files(); }, "no files are registered");
    expect_throw<std::logic_error>([&] { io.unregister_buffers(); }, "no buffers are registered");
    expect_throw<std::invalid_argument>([&] { io.register_files({}); }, "no fds");
    expect_throw<std::invalid_argument>([&] { io.register_buffers({}); }, "no buffers");
    expect_throw<std::out_of_range>([&] { io.update_file(F{0}, f.get()); }, "out of range");
    io.register_files(std::array{f.get()});
    io.register_buffers(std::span(&v, 1));
    expect_throw<std::logic_error>([&] { io.register_files(std::array{f.get()}); },
                                   "files are already registered");
    expect_throw<std::logic_error>([&] { io.register_buffers(std::span(&v, 1)); },
                                   "buffers are already registered");
    std::error_code ec;
    expect_throw<std::logic_error>([&] { io.register_files(std::array{f.get()}, ec); },
                                   "already registered"); // the ec form too
    // Off the loop thread.
    int thrown = 0;
    std::thread t([&] {
        try {
            io.unregister_files();
        } catch (const std::logic_error& e) {
            thrown += std::strstr(e.what(), "not on the loop thread") != nullptr;
        }
        try { // not an invalid_argument for the span: the thread comes first
            io.read(F{0}, B{0}, std::span(mem.data() + 1, mem.size()), 0, [](ssize_t) {});
        } catch (const std::logic_error& e) {
            thrown += std::strstr(e.what(), "not on the loop thread") != nullptr;
        }
    });
    t.join();
    assert_int_equal(thrown, 2);
    assert_int_equal(io.queued(), 0);
    // Unregistered, they can be registered again.
    io.unregister_files();
    io.unregister_buffers();
    assert_int_equal(io.registered_files(), 0);
    assert_int_equal(io.registered_buffers(), 0);
    io.register_files(std::array{f.get()});
    io.register_buffers(std::span(&v, 1));
    assert_int_equal(io.registered_files(), 1);
}

// Kernel errors: std::system_error naming the call, or the error_code.
static void test_kernel_errors_name_the_call(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    const int closed = 1 << 19; // not open (and not reused by make_tmpfile)
    assert_int_equal(::fcntl(closed, F_GETFD), -1);
    try {
        io.register_files(std::array{closed});
        fail_msg("registered a closed fd");
    } catch (const std::system_error& e) {
        assert_int_equal(e.code().value(), EBADF);
        assert_non_null(std::strstr(e.what(), "io_uring_register_files: "));
    }
    assert_int_equal(io.registered_files(), 0);
    std::error_code ec = std::make_error_code(std::errc::io_error);
    io.register_files(std::array{closed}, ec);
    assert_int_equal(ec.value(), EBADF);
    assert_true(ec.category() == std::system_category());
    asyncdev::UniqueFd f = make_tmpfile();
    io.register_files(std::array{f.get()}, ec);
    assert_false(static_cast<bool>(ec));
    try {
        io.update_file(F{0}, closed);
        fail_msg("updated to a closed fd");
    } catch (const std::system_error& e) {
        assert_int_equal(e.code().value(), EBADF);
        assert_non_null(std::strstr(e.what(), "io_uring_register_files_update: "));
    }
    io.update_file(F{0}, closed, ec);
    assert_int_equal(ec.value(), EBADF);
    // Memory that is not mapped.
    const iovec bad{reinterpret_cast<void*>(4096), 4096};
    try {
        io.register_buffers(std::span(&bad, 1));
        fail_msg("registered unmapped memory");
    } catch (const std::system_error& e) {
        assert_int_equal(e.code().value(), EFAULT);
        assert_non_null(std::strstr(e.what(), "io_uring_register_buffers: "));
    }
    io.register_buffers(std::span(&bad, 1), ec);
    assert_int_equal(ec.value(), EFAULT);
    assert_int_equal(io.registered_buffers(), 0);
}

// The ring holds its own reference to a registered file: requests through
// the slot work after the fd it was registered from is closed.
static void test_registered_file_outlives_its_fd(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    asyncdev::UniqueFd f = make_tmpfile();
    const auto out = pattern(512, 77);
    assert_int_equal(::pwrite(f.get(), out.data(), out.size(), 0), 512);
    Pair p = make_pipe();
    io.register_files(std::array{f.get(), p.b.get()});
    RegBuf rb(io, 512);
    f.reset();   // the tmpfile's only fd
    p.b.reset(); // the pipe's only write end
    ssize_t r = pending, w = pending;
    io.read(F{0}, B{0}, rb.span(0, 512), 0, [&](ssize_t res) { r = res; });
    io.submit();
    assert_int_equal(wait_result(loop, r), 512);
    assert_memory_equal(rb.mem.data(), out.data(), 512);
    // The pipe's write side is still open (no EOF) and writable via slot 1.
    io.write(F{1}, bytes("still open"), 0, [&](ssize_t res) { w = res; });
    io.submit();
    assert_int_equal(wait_result(loop, w), 10);
    char got[16] = {};
    assert_int_equal(::read(p.a.get(), got, sizeof got), 10);
    assert_memory_equal(got, "still open", 10);
    // Dropping the registration drops the last writer: EOF.
    io.unregister_files();
    assert_int_equal(::read(p.a.get(), got, sizeof got), 0);
}

// update_file: an empty slot gets a file, then loses it again.
static void test_update_file(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    asyncdev::UniqueFd f = make_tmpfile();
    assert_int_equal(::pwrite(f.get(), "update", 6, 0), 6);
    io.register_files(std::array{-1});
    std::byte buf[8]{}; // initialised: valgrind does not see the kernel write it
    ssize_t r = pending;
    auto read0 = [&] {
        r = pending;
        io.read(F{0}, buf, 0, [&](ssize_t res) { r = res; });
        io.submit();
        return wait_result(loop, r);
    };
    assert_int_equal(read0(), -EBADF);
    io.update_file(F{0}, f.get());
    assert_int_equal(read0(), 6);
    assert_memory_equal(buf, "update", 6);
    io.update_file(F{0}, -1);
    assert_int_equal(read0(), -EBADF);
}

// Unregistering is refused (std::logic_error, the registration untouched)
// while a request that uses it exists: prepared, in the kernel, or
// completed with its callback not yet run. From the callback it works.
static void test_unregister_refused_while_in_flight(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 8);
    Pair p = make_pipe();
    io.register_files(std::array{p.a.get()});
    RegBuf rb(io, 64);
    ssize_t r = pending;
    bool unregistered_in_callback = false;
    io.read(F{0}, B{0}, rb.span(0, 64), 0, [&](ssize_t res) {
        r = res;
        io.unregister_files();
        io.unregister_buffers();
        unregistered_in_callback = true;
    });
    expect_throw<std::logic_error>([&] { io.unregister_files(); },
                                   "1 request(s) still use the registered files");
    io.submit();
    loop.run_once(10ms);
    assert_int_equal(io.in_flight(), 1);
    expect_throw<std::logic_error>([&] { io.unregister_files(); },
                                   "1 request(s) still use the registered files");
    expect_throw<std::logic_error>([&] { io.unregister_buffers(); },
                                   "1 request(s) still use the registered buffers");
    assert_int_equal(io.registered_files(), 1);
    assert_int_equal(io.registered_buffers(), 1);
    assert_int_equal(::write(p.b.get(), "data", 4), 4);
    assert_int_equal(wait_result(loop, r), 4);
    assert_true(unregistered_in_callback);
    assert_int_equal(io.registered_files(), 0);
    assert_int_equal(io.registered_buffers(), 0);
}

// Cancelled, abandoned and still-queued requests release the registration
// when their callback runs or is dropped.
static void test_cancel_and_abandon_release_registration(void**)
{
    asyncdev::Loop loop;
    Uring io(loop, 1);
    Pair p = make_pipe();
    io.register_files(std::array{p.a.get()});
    RegBuf rb(io, 64);
    ssize_t a = pending, b = pending;
    const auto ida = io.read(F{0}, B{0}, rb.span(0, 8), 0, [&](ssize_t res) { a = res; });
    const auto idb = io.read(F{0}, rb.span(8, 8), 0, [&](ssize_t res) { b = res; });
    io.submit(); // depth 1: a in the kernel, b queued
    loop.run_once(10ms);
    assert_int_equal(io.in_flight(), 1);
    assert_int_equal(io.queued(), 1);
    assert_true(io.cancel(idb));
    assert_int_equal(wait_result(loop, b), -ECANCELED);
    expect_throw<std::logic_error>([&] { io.unregister_files(); }, "1 request(s)");
    expect_throw<std::logic_error>([&] { io.unregister_buffers(); }, "1 request(s)");
    io.abandon(ida);
    assert_int_equal(io.in_flight(), 0);
    io.unregister_buffers();
    io.unregister_files();
    assert_int_equal(a, pending); // abandoned: no callback
}

// Registered buffers are charged to RLIMIT_MEMLOCK for a ring created
// without CAP_IPC_LOCK (checked by the kernel at io_uring_setup): beyond
// the limit, ENOMEM from io_uring_register_buffers, nothing registered.
static void test_memlock_limit(void**)
{
    const bool root_like = has_ipc_lock_permitted();
    if (root_like)
        set_ipc_lock(false);
    asyncdev::Loop loop;
    std::unique_ptr<Uring> io;
    try {
        io = std::make_unique<Uring>(loop, 8);
    } catch (...) {
        if (root_like)
            set_ipc_lock(true);
        throw;
    }
    if (root_like)
        set_ipc_lock(true); // the ring keeps charging: decided at setup
    constexpr std::size_t size = 1 << 20;
    void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    std::memset(mem, 1, size);
    const iovec v{mem, size};
    rlimit old{};
    assert_int_equal(::getrlimit(RLIMIT_MEMLOCK, &old), 0);
    rlimit low = old;
    low.rlim_cur = 64 << 10;
    assert_int_equal(::setrlimit(RLIMIT_MEMLOCK, &low), 0);
    std::error_code ec;
    io->register_buffers(std::span(&v, 1), ec);
    std::string what;
    try {
        io->register_buffers(std::span(&v, 1));
    } catch (const std::system_error& e) {
        what = e.what();
    }
    assert_int_equal(::setrlimit(RLIMIT_MEMLOCK, &old), 0);
    assert_int_equal(ec.value(), ENOMEM);
    assert_non_null(std::strstr(what.c_str(), "io_uring_register_buffers: "));
    assert_int_equal(io->registered_buffers(), 0);
    // With the usual limit the same registration works (if the limit allows
    // a MiB at all).
    if (old.rlim_cur == RLIM_INFINITY || old.rlim_cur >= 4 * size) {
        io->register_buffers(std::span(&v, 1));
        assert_int_equal(io->registered_buffers(), 1);
    }
    io.reset();
    ::munmap(mem, size);
}

// Destruction with registrations and requests in flight (in the kernel and
// queued): prompt, no callback, the reads really cancelled (the data
// written afterwards is still in the pipe), the memory free to go.
static void test_destroy_with_registrations_and_requests(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe();
    auto mem = std::make_unique<std::vector<std::byte>>(8 * 16);
    int calls = 0;
    const auto start = Clock::now();
    {
        Uring io(loop, 4);
        io.register_files(std::array{p.a.get()});
        const iovec v{mem->data(), mem->size()};
        io.register_buffers(std::span(&v, 1));
        for (std::size_t i = 0; i < 8; ++i)
            io.read(F{0}, B{0}, std::span(*mem).subspan(i * 16, 16), 0,
                    [&](ssize_t) { ++calls; });
        io.submit();
        loop.run_once(10ms);
        assert_int_equal(io.in_flight(), 4);
        assert_int_equal(io.queued(), 4);
    }
    assert_true(Clock::now() - start < 2s);
    assert_int_equal(calls, 0);
    mem.reset();
    assert_int_equal(::write(p.b.get(), "left", 4), 4);
    char got[8] = {};
    assert_int_equal(::read(p.a.get(), got, sizeof got), 4);
    assert_memory_equal(got, "left", 4);
    loop.run_once(10ms);
    assert_int_equal(calls, 0);
}

// In a forked child the registration calls throw std::logic_error naming
// fork(), and destroying the Uring there leaves the parent's registrations
// and fixed-file request alone.
static void test_fork_child(void**)
{
    asyncdev::Loop loop;
    Pair p = make_pipe();
    auto io = std::make_unique<Uring>(loop, 4);
    io->register_files(std::array{p.a.get()});
    RegBuf rb(*io, 16);
    ssize_t r = pending;
    io->read(F{0}, B{0}, rb.span(0, 16), 0, [&](ssize_t res) { r = res; });
    io->submit();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(10);
        int code = 0;
        try {
            io->unregister_files();
            code |= 1;
        } catch (const std::logic_error& e) {
            if (!std::strstr(e.what(), "fork()"))
                code |= 2;
        }
        try {
            io->read(F{0}, B{0}, rb.span(0, 16), 0, [](ssize_t) {});
            code |= 4;
        } catch (const std::logic_error&) {
        }
        io.reset();
        ::_exit(code);
    }
    assert_true(pid > 0);
    int status = 0;
    assert_int_equal(::waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(::write(p.b.get(), "parent", 6), 6);
    assert_int_equal(wait_result(loop, r), 6);
    assert_memory_equal(rb.mem.data(), "parent", 6);
    // The parent's registration is intact.
    r = pending;
    io->read(F{0}, B{0}, rb.span(8, 8), 0, [&](ssize_t res) { r = res; });
    io->submit();
    assert_int_equal(::write(p.b.get(), "again", 5), 5);
    assert_int_equal(wait_result(loop, r), 5);
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_regular_file),
        cmocka_unit_test(test_fixed_file_alone_and_fixed_buffer_alone),
        cmocka_unit_test(test_pipe),
        cmocka_unit_test(test_eventfd),
        cmocka_unit_test(test_bad_span_or_index_submits_nothing),
        cmocka_unit_test(test_misuse_is_logic_error),
        cmocka_unit_test(test_kernel_errors_name_the_call),
        cmocka_unit_test(test_registered_file_outlives_its_fd),
        cmocka_unit_test(test_update_file),
        cmocka_unit_test(test_unregister_refused_while_in_flight),
        cmocka_unit_test(test_cancel_and_abandon_release_registration),
        cmocka_unit_test(test_memlock_limit),
        cmocka_unit_test(test_destroy_with_registrations_and_requests),
        cmocka_unit_test(test_fork_child),
    };
    return cmocka_run_group_tests_name("uring_registered", tests, nullptr, nullptr);
}
