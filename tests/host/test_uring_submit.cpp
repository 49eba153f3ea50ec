// Uring when io_uring_submit fails (issue 13, defect 8): -EAGAIN / -EBUSY
// leave the SQEs in the ring; the requests must still reach the kernel
// without another submit() from the user. And lengths over 4 GiB, which
// io_uring's 32-bit length cannot carry: a short transfer, never a
// truncated (0-byte) one.
//
// The failures are injected at the liburing boundary: this executable
// defines io_uring_submit(), which the dynamic linker binds libasyncdev's
// calls to (an executable's definition comes first in symbol lookup), and
// which fails while `fail_submits` > 0 and otherwise calls liburing's. A
// failing call returns before io_uring_enter, so the SQEs stay in the ring
// exactly as after a kernel -EAGAIN/-EBUSY. (Kernels since 5.19 no longer
// return -EBUSY for a full CQ, and -EAGAIN needs a failed allocation, so
// the kernel cannot be made to fail on demand.)
#include "test_util.h"

#include <asyncdev/uring.h>

#include <atomic>
#include <optional>

#include <dlfcn.h>
#include <sys/mman.h>

using namespace test;
using Engine = asyncdev::Uring;

namespace {
std::atomic<int> fail_submits{0};
std::atomic<int> fail_errno{EAGAIN};
std::atomic<int> failed_submits{0};
} // namespace

struct io_uring;
extern "C" int io_uring_submit(struct io_uring* ring)
{
    using Fn = int (*)(struct io_uring*);
    static const Fn real = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, "io_uring_submit"));
    if (fail_submits.load() > 0) {
        fail_submits.fetch_sub(1);
        failed_submits.fetch_add(1);
        return -fail_errno.load();
    }
    return real(ring);
}

namespace {

void read_completes_after_failed_submit(int err, int failures)
{
    asyncdev::Loop loop;
    Engine io(loop, 4);
    Pair p = make_pipe();
    assert_int_equal(::write(p.b.get(), "hello", 5), 5);
    std::vector<std::byte> buf(16);
    ssize_t res = -1;
    fail_errno = err;
    failed_submits = 0;
    fail_submits = failures;
    io.read(p.a.get(), buf, 0, [&](ssize_t r) { res = r; });
    io.submit(); // fails: nothing else is in flight, nobody calls submit() again
    assert_int_equal(failed_submits.load(), 1);
    const bool done = run_until(loop, [&] { return res >= 0; }, 2s);
    fail_submits = 0;
    if (!done)
        fail_msg("read not completed 2 s after io_uring_submit failed %d time(s) with %s "
                 "(in_flight %zu)",
                 failures, std::strerror(err), io.in_flight());
    assert_int_equal(failed_submits.load(), failures);
    assert_int_equal(res, 5);
    assert_memory_equal(buf.data(), "hello", 5);
    assert_int_equal(io.in_flight(), 0);
}

/// `n` bytes of address space, mapped without reserving memory: the kernel
/// touches only what it transfers.
struct BigMapping {
    explicit BigMapping(std::size_t n) : len(n)
    {
        void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            fail_msg("mmap(%zu): %s", n, std::strerror(errno));
        addr = static_cast<std::byte*>(p);
    }
    ~BigMapping() { ::munmap(addr, len); }
    BigMapping(const BigMapping&) = delete;
    BigMapping& operator=(const BigMapping&) = delete;
    std::byte* addr;
    std::size_t len;
};

constexpr std::size_t four_gib = std::size_t{1} << 32;

} // namespace

static void test_read_completes_after_submit_eagain(void**)
{
    read_completes_after_failed_submit(EAGAIN, 1);
}

static void test_read_completes_after_submit_ebusy(void**)
{
    read_completes_after_failed_submit(EBUSY, 1);
}

static void test_read_completes_after_repeated_submit_failures(void**)
{
    read_completes_after_failed_submit(EAGAIN, 5);
}

// The destructor waits for the kernel: it must first get the stuck SQEs
// (the read and its cancel) into it, not wait for completions of requests
// the kernel never saw.
static void test_destroy_with_unsubmitted_sqes_returns(void**)
{
    Pair p = make_pipe();
    asyncdev::Loop loop;
    std::optional<Engine> io;
    io.emplace(loop, 4);
    std::vector<std::byte> buf(16);
    bool called = false;
    failed_submits = 0;
    fail_errno = EAGAIN;
    fail_submits = 3;
    io->read(p.a.get(), buf, 0, [&](ssize_t) { called = true; });
    io->submit();
    io.reset(); // cancels the read once it is in the kernel, then reaps
    fail_submits = 0;
    assert_int_equal(failed_submits.load(), 3);
    assert_false(called);
}

// Issue 13, defect 8: io_uring's length is 32 bits; a 4 GiB read must not
// become a 0-byte one (which reads as end-of-file).
static void test_read_over_4gib_is_short_not_truncated(void**)
{
    asyncdev::Loop loop;
    Engine io(loop, 4);
    Pair p = make_pipe();
    assert_int_equal(::write(p.b.get(), "0123456789", 10), 10);
    BigMapping m(four_gib + 4096);
    ssize_t res = -1;
    io.read(p.a.get(), std::span<std::byte>(m.addr, four_gib), 0, [&](ssize_t r) { res = r; });
    io.submit();
    assert_true(run_until(loop, [&] { return res >= 0; }));
    assert_int_equal(res, 10);
    assert_memory_equal(m.addr, "0123456789", 10);
    // 4 GiB + 7 (was cast to 7): all of what is there, not at most 7.
    assert_int_equal(::write(p.b.get(), "0123456789", 10), 10);
    res = -1;
    io.read(p.a.get(), std::span<std::byte>(m.addr, four_gib + 7), 0,
            [&](ssize_t r) { res = r; });
    io.submit();
    assert_true(run_until(loop, [&] { return res >= 0; }));
    assert_int_equal(res, 10);
}

static void test_write_over_4gib_is_short_not_truncated(void**)
{
    asyncdev::Loop loop;
    Engine io(loop, 4);
    Pair p = make_pipe(O_NONBLOCK | O_CLOEXEC); // a partial write, then EAGAIN
    BigMapping m(four_gib);
    ssize_t res = -1;
    io.write(p.b.get(), std::span<const std::byte>(m.addr, four_gib), 0,
             [&](ssize_t r) { res = r; });
    io.submit();
    assert_true(run_until(loop, [&] { return res >= 0; }));
    assert_true(res > 0);
    assert_true(res <= ::fcntl(p.b.get(), F_GETPIPE_SZ));
}

int main()
{
    test::filter_from_env();
    const CMUnitTest tests[] = {
        cmocka_unit_test(test_read_completes_after_submit_eagain),
        cmocka_unit_test(test_read_completes_after_submit_ebusy),
        cmocka_unit_test(test_read_completes_after_repeated_submit_failures),
        cmocka_unit_test(test_destroy_with_unsubmitted_sqes_returns),
        cmocka_unit_test(test_read_over_4gib_is_short_not_truncated),
        cmocka_unit_test(test_write_over_4gib_is_short_not_truncated),
    };
    return cmocka_run_group_tests_name("uring_submit", tests, nullptr, nullptr);
}
