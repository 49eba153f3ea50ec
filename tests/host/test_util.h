// Helpers shared by the host tests (cmocka in C++).
#pragma once

#include <asyncdev/asyncdev.h>

#include <chrono>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <aio.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

extern "C" {
#include <cmocka.h>
}

// True when built with -fsanitize=thread (gcc defines __SANITIZE_THREAD__,
// clang answers __has_feature(thread_sanitizer)).
#if defined(__SANITIZE_THREAD__)
#define ASYNCDEV_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ASYNCDEV_TSAN 1
#endif
#endif
#ifndef ASYNCDEV_TSAN
#define ASYNCDEV_TSAN 0
#endif

namespace test {

using namespace std::chrono_literals;

/// Under TSan: says why on stderr and marks the running test skipped.
/// glibc (2.34+) starts its POSIX AIO helper and SIGEV_THREAD notification
/// threads with its internal __pthread_create, which TSan cannot intercept:
/// such a thread has no TSan state, and the first intercepted call it makes
/// (malloc in __aio_notify_only, or our SIGEV_THREAD callback) crashes
/// inside TSan's allocator (llvm/llvm-project#109742). Nothing to suppress:
/// it is a segfault, not a report.
#define SKIP_UNDER_TSAN(why)                                                          \
    do {                                                                              \
        if (ASYNCDEV_TSAN) {                                                          \
            std::fprintf(stderr, "skipped under TSan: %s\n", why);                   \
            skip();                                                                   \
        }                                                                             \
    } while (0)

/// Under TSan, call first in main() of a test that uses POSIX AIO: caps
/// glibc at one AIO helper thread. A helper thread starts another one
/// when requests queue up and it is below the cap, and that start
/// (calloc for the new thread's TLS) is an intercepted call on a thread
/// TSan does not know: a crash in TSan's allocator, as above. With a cap
/// of one, the only helper is started from aio_read/lio_listio on our own
/// thread, which TSan knows. Requests then run one at a time in glibc,
/// which changes no behaviour of ours (glibc may always queue them).
inline void tsan_one_aio_helper_thread()
{
    if (!ASYNCDEV_TSAN)
        return;
    struct aioinit init{};
    init.aio_threads = 1;
    init.aio_num = 64;
    init.aio_idle_time = 1;
    ::aio_init(&init);
}
using Clock = std::chrono::steady_clock;

/// Call first in main(): CMOCKA_TEST_FILTER=<glob> runs only the matching
/// tests (to look at one test under a debugger or against older code).
inline void filter_from_env()
{
    if (const char* f = std::getenv("CMOCKA_TEST_FILTER"))
        cmocka_set_test_filter(f);
}

/// Runs the loop until pred() holds or `timeout` passes; returns pred().
template <class Pred>
bool run_until(asyncdev::Loop& loop, Pred pred, std::chrono::milliseconds timeout = 5s)
{
    const auto deadline = Clock::now() + timeout;
    while (!pred() && Clock::now() < deadline)
        loop.run_once(10ms);
    return pred();
}

/// Both ends of a pipe or socketpair, closed on destruction.
struct Pair {
    asyncdev::UniqueFd a, b; // pipe: a = read end, b = write end
};

inline Pair make_pipe(int flags = O_CLOEXEC)
{
    int fds[2];
    if (::pipe2(fds, flags) < 0)
        fail_msg("pipe2: %s", std::strerror(errno));
    return {asyncdev::UniqueFd(fds[0]), asyncdev::UniqueFd(fds[1])};
}

inline Pair make_socketpair()
{
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
        fail_msg("socketpair: %s", std::strerror(errno));
    return {asyncdev::UniqueFd(fds[0]), asyncdev::UniqueFd(fds[1])};
}

/// An unlinked temporary regular file opened O_RDWR.
inline asyncdev::UniqueFd make_tmpfile()
{
    int fd = ::open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char name[] = "/tmp/asyncdev-test-XXXXXX";
        fd = ::mkstemp(name);
        if (fd >= 0)
            ::unlink(name);
    }
    if (fd < 0)
        fail_msg("tmpfile: %s", std::strerror(errno));
    return asyncdev::UniqueFd(fd);
}

inline std::vector<std::byte> pattern(std::size_t n, unsigned seed)
{
    std::vector<std::byte> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<std::byte>((i * 31 + seed) & 0xff);
    return v;
}

inline std::span<const std::byte> bytes(const char* s)
{
    return {reinterpret_cast<const std::byte*>(s), std::strlen(s)};
}

} // namespace test
