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

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

extern "C" {
#include <cmocka.h>
}

namespace test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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
